"""A synthetic scoring workload: random members and non-members, outputs with planted copies.

`bench perf` and the benchmark tests time and measure the metrics engine on it, so the numbers do
not depend on CelebA being present.
"""

from __future__ import annotations

import time

import numpy as np

BANDS = {
    "high": {"lo": 0.0, "hi": 0.09},
    "mid": {"lo": 0.09, "hi": 0.1},
    "low": {"lo": 0.1, "hi": 0.115},
}
DELTAS = [0.05, 0.1, 0.15]


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


def time_scoring(n_outputs: int, n_members: int, res: int) -> float:
    """Seconds to score ``n_outputs`` against ``n_members`` members and 1,000 non-members."""
    from bench.metrics import score

    outputs, members, nonmembers = synthetic_workload(n_outputs, n_members, 1_000, res)
    start = time.perf_counter()
    score(outputs, members, nonmembers, BANDS, DELTAS)
    return time.perf_counter() - start


def time_sscd(spec: str, n_images: int, res: int) -> float | None:
    """Seconds per image for SSCD descriptors of ``res`` px images (upsampling included), or None
    when the SSCD wheel is not installed (``bench perf`` then says so instead of a number)."""
    from bench.errors import BenchError
    from bench.metrics.sscd import similarity_model

    try:
        model = similarity_model(spec)
    except BenchError:
        return None
    images = synthetic_workload(n_images, 1, 1, res)[0]
    model.embed(images[:2])  # the session's first call allocates; time the steady state
    start = time.perf_counter()
    model.embed(images)
    return (time.perf_counter() - start) / n_images
