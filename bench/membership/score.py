"""One membership method on one zoo model: score every member and held-out image, judge the
scores with the held-out protocol, and make the record.

A record holds every scored image's score (members by their index in the model's member
manifest, ``member_indices``, the indices an extraction record's ``members_hit`` uses; held-out
images in the manifest's order), each member's duplicate count, the metrics, and the provenance
an extraction record carries (cards and versions, checkpoint digest, seed, commit, cost in UNet
evaluations).
Scores are numbers about images, never pixels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.cards import ModelCard, model_cards
from bench.data.manifests import manifest_digest
from bench.data.subset import Subset, members
from bench.membership.base import MembershipMethod
from bench.membership.cards import MethodCard, build_method
from bench.membership.heldout import heldout_subset
from bench.membership.protocol import evaluate, tier_rates
from bench.membership.queries import Queries
from bench.utils.imageio import to_tensor
from bench.utils.provenance import git_commit, machine, versions
from bench.zoo.load import checkpoint_status, load_denoiser, verified_digest

SCHEMA = 1
# The profiles the track covers: the trained zoo of this CPU (paper-profile models are untrained).
PROFILES = ("cpu", "cpu32", "cpu64")
# Suite's choice: images per scoring batch (the denoiser slices it further by its unet_batch).
BATCH = 256
# Suite's choice, to fit 2 CPU cores: at most this many members are scored per model, a seeded
# draw that keeps every duplicated member (ladders, canaries); the 5k models' 5,000 members would
# cost five times the held-out set's evaluations and add nothing the protocol can resolve.
MEMBER_CAP = 1000
MEMBER_DRAW_SEED = 20236
# Scores keep 7 significant digits: far below any gap the protocol can resolve.
DIGITS = 7


def ranked_models(profiles: tuple[str, ...] = PROFILES) -> list[str]:
    """Every trained, ranked zoo model of the profiles the track covers."""
    return [
        c.name
        for c in model_cards()
        if c.role == "ranked" and c.profile in profiles and checkpoint_status(c) == "trained"
    ]


def score_images(
    method: MembershipMethod,
    queries: Queries,
    images: np.ndarray,
    captions: list[str] | None,
    seed: int,
    stream: int,
) -> np.ndarray:
    """One score per image of ``images`` (uint8 NHWC, with their captions for a conditional
    model); batch b draws its noise from generator (seed, stream, b), so members (stream 0),
    held-out images (stream 1) and generations (``rerank``) never share it."""
    out = []
    device = queries.denoiser.device
    for b, start in enumerate(range(0, len(images), BATCH)):
        x0 = to_tensor(images[start : start + BATCH]).to(device)
        queries.captions = (
            captions[start : start + BATCH] if queries.denoiser.conditional and captions else None
        )
        state = np.random.SeedSequence([seed, stream, b]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(state))
        with torch.no_grad():
            out.append(method.score(queries, x0, generator).double().cpu().numpy())
    return np.concatenate(out)


def scored_members(counts: np.ndarray, cap: int = MEMBER_CAP) -> np.ndarray:
    """Indices (in manifest order) of the members scored: all of them up to ``cap``, else every
    duplicated member and a seeded draw of the singletons to make ``cap``."""
    if len(counts) <= cap:
        return np.arange(len(counts))
    dup = np.flatnonzero(counts > 1)
    single = np.flatnonzero(counts == 1)
    rng = np.random.default_rng(MEMBER_DRAW_SEED)
    drawn = rng.choice(single, size=max(cap - len(dup), 0), replace=False)
    return np.sort(np.concatenate([dup, drawn]))


def subset_rows(subset: Subset, rows: np.ndarray) -> Subset:
    return Subset(
        files=[subset.files[i] for i in rows],
        images=subset.images[rows],
        counts=subset.counts[rows],
        captions=[subset.captions[i] for i in rows],
        cache_key=subset.cache_key,
    )


def rounded(values: np.ndarray) -> list[float]:
    return [float(f"{v:.{DIGITS}g}") for v in values]


def has_tiers(counts: np.ndarray) -> bool:
    return bool((counts > 1).any())


def score_model(
    mcard: MethodCard,
    params: dict[str, Any],
    model: ModelCard,
    root: Path,
    seed: int = 0,
    queries_cls: type[Queries] = Queries,
) -> dict[str, Any]:
    """The record of ``mcard`` with ``params`` against ``model``."""
    method = build_method(mcard, params)
    start = time.perf_counter()
    digest = verified_digest(model)
    denoiser = load_denoiser(model)
    everyone = members(model, root)
    rows = scored_members(everyone.counts)
    member_set = subset_rows(everyone, rows)
    held = heldout_subset(model, root)
    queries = queries_cls(denoiser)
    m = score_images(method, queries, member_set.images, member_set.captions, seed, 0)
    h = score_images(method, queries, held.images, held.captions, seed, 1)
    metrics = evaluate(m, h)
    if has_tiers(member_set.counts):
        metrics["tiers"] = tier_rates(m, member_set.counts, h)
    return {
        "schema": SCHEMA,
        "track": "membership",
        "method": mcard.name,
        "method_version": mcard.version,
        "threat_model": mcard.threat_model,
        "params": params,
        "model": model.name,
        "model_version": model.version,
        "profile": model.profile,
        "scale": model.scale,
        "resolution": model.resolution,
        "role": model.role,
        "checkpoint_sha256": digest,
        "dataset": model.dataset,
        "members_manifest_sha256": manifest_digest(everyone.files),
        "members_total": len(everyone.files),
        "heldout_manifest_sha256": manifest_digest(held.files),
        "seed": seed,
        "cost": {
            "unet_evaluations": queries.evaluations,
            "queries_per_image": method.queries_per_image(),
        },
        "metrics": metrics,
        "member_indices": rows.tolist(),
        "member_counts": member_set.counts.tolist(),
        "member_scores": rounded(m),
        "heldout_scores": rounded(h),
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - start, 2),
    }
