"""Behind `bench perf`: scoring throughput against generation time (reports/performance.md).

Scoring must never be the bottleneck of a benchmark: the report states how long the metrics engine
takes for 10^5 outputs against 10^4 members, as a fraction of the time the cpu-profile model needs
to generate those 10^5 outputs in the first place.
"""

from __future__ import annotations

import time

import numpy as np

from bench.cards import model_card
from bench.zoo.build import build_sampler
from bench.zoo.load import load_denoiser
from bench.zoo.sampling import batch_generator, sample_batch

BANDS = {
    "high": {"lo": 0.0, "hi": 0.09},
    "mid": {"lo": 0.09, "hi": 0.1},
    "low": {"lo": 0.1, "hi": 0.115},
}


def synthetic_workload(
    n_outputs: int, n_members: int, n_nonmembers: int, res: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random members/non-members and outputs of which 1% are noisy member copies (ℓ2 ≈ 0.08),
    so the band and range-search paths do real work, not only the nearest-neighbour pass."""
    rng = np.random.default_rng(seed)
    members = rng.integers(0, 256, (n_members, res, res, 3), dtype=np.uint8)
    nonmembers = rng.integers(0, 256, (n_nonmembers, res, res, 3), dtype=np.uint8)
    outputs = rng.integers(0, 256, (n_outputs, res, res, 3), dtype=np.uint8)
    near = rng.choice(n_outputs, n_outputs // 100, replace=False)
    noise = rng.normal(0, 20, (len(near), res, res, 3))
    source = members[rng.integers(0, n_members, len(near))]
    outputs[near] = np.clip(source + noise, 0, 255).astype(np.uint8)
    return outputs, members, nonmembers


def time_scoring(n_outputs: int = 100_000, n_members: int = 10_000, res: int = 16) -> float:
    from bench.metrics import score

    outputs, members, nonmembers = synthetic_workload(n_outputs, n_members, 1_000, res)
    start = time.perf_counter()
    score(outputs, members, nonmembers, BANDS, [0.05, 0.1, 0.15])
    return time.perf_counter() - start


def time_generation(model: str, n: int = 256) -> tuple[float, int]:
    """Seconds per generated output (one DDIM batch of ``n``) and the sampling steps used.

    A one-step warm-up batch pays for lazy initialisation (CUDA context, kernels) outside the
    timer, and the timer stops only once the device has finished the batch.
    """
    card = model_card(model)
    denoiser = load_denoiser(card)
    steps = int(card.scheduler.get("sampling_steps", 50))
    sample_batch(denoiser, build_sampler(card), 2, card.resolution, 1, batch_generator(0, 1))
    start = time.perf_counter()
    x = sample_batch(
        denoiser, build_sampler(card), n, card.resolution, steps, batch_generator(0, 0)
    )
    x.cpu()
    return (time.perf_counter() - start) / n, steps
