"""Measure how much a trained zoo model memorises, from unguided samples.

The zoo's claim that memorisation falls with scale must be measured, not assumed: we draw the
card's fixed number of samples and count Gu et al.'s criterion d1/d2 < 1/3 against the members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bench.cards import ModelCard
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.tally import GU_RATIO
from bench.utils.imageio import to_unit
from bench.zoo.build import build_sampler, sampling_steps
from bench.zoo.denoiser import Denoiser
from bench.zoo.pool import ModelPool
from bench.zoo.sampling import BATCH, sample


@dataclass(frozen=True)
class Memorisation:
    samples: int
    memorised_fraction: float
    unique_hits: int
    median_nearest_l2: float
    # Duplicate count -> members of that tier hit; only for models with repeated members.
    tier_hits: dict[int, int] | None = None


def tier_hits(flags: np.ndarray, nearest: np.ndarray, counts: np.ndarray) -> dict[int, int] | None:
    """Distinct members hit per duplicate count, so a ladder's grading is read off the card."""
    if len(np.unique(counts)) < 2:
        return None
    hit = np.unique(nearest[flags])
    return {
        int(times): int(np.isin(np.flatnonzero(counts == times), hit).sum())
        for times in sorted(np.unique(counts).tolist(), reverse=True)
    }


def gu_memorised(
    samples: np.ndarray, members: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: memorised flag, nearest member index and nearest distance."""
    dist, idx = NeighbourIndex(to_unit(members)).knn(to_unit(samples), 2)
    # With one member there is no second neighbour (d2 = inf), so nothing can be flagged.
    flags = (dist[:, 0] < GU_RATIO * dist[:, 1]) & np.isfinite(dist[:, 1])
    return flags, idx[:, 0], dist[:, 0]


def measure(
    card: ModelCard,
    denoiser: Denoiser,
    members: np.ndarray,
    captions: list[str],
    progress: bool = True,
    counts: np.ndarray | None = None,
    pool: ModelPool | None = None,
) -> Memorisation:
    """Unguided samples; caption models get member captions drawn at random (seeded). An
    unconditional model's samples go through its sample ``pool`` where given: they are the
    batches carlini draws at the evaluation seed, and a grid later reads them from there."""
    n = int(card.evaluation.get("samples", 256))
    seed = int(card.evaluation.get("seed", 1))
    steps = sampling_steps(card)
    caps = None
    if denoiser.conditional:
        rng = np.random.default_rng(seed)
        caps = [captions[i] for i in rng.integers(0, len(captions), n)]

    def draw(batches: list[int] | None = None) -> Iterator[np.ndarray]:
        return sample(
            denoiser,
            build_sampler(card),
            n,
            card.resolution,
            steps,
            seed=seed,
            captions=caps,
            batches=batches,
            progress=progress,
        )

    pooled = None
    if pool is not None and caps is None:
        pooled = pool.setting(denoiser, build_sampler(card), steps, card.resolution)
    if pooled is None:
        out = np.concatenate(list(draw()))
    else:
        every = list(range(-(-n // BATCH)))
        out = np.concatenate([d.images for d in pooled.draw(n, seed, every, draw)])
    flags, nearest, d1 = gu_memorised(out, members)
    return Memorisation(
        n,
        float(flags.mean()),
        int(len(np.unique(nearest[flags]))),
        float(np.median(d1)),
        tier_hits(flags, nearest, counts) if counts is not None else None,
    )
