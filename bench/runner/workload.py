"""A synthetic scoring workload: random members and non-members, outputs with planted copies.

`bench perf` and the benchmark tests time and measure the metrics engine on it, so the numbers do
not depend on CelebA being present.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


def copy_groups(n_outputs: int, res: int, share: float, group: int, seed: int = 0) -> np.ndarray:
    """Random outputs of which ``share`` are copies of memorised images in groups of ``group``,
    each copy with its own pixel noise (σ from 5 to 15 of 255), so a pair of the noisiest copies
    sits just over the clique filter's tiled-ℓ2 threshold (0.08) and a group is a near-clique, as
    hundreds of copies of one memorised image make at a large N_G."""
    rng = np.random.default_rng(seed)
    outputs = rng.integers(0, 256, (n_outputs, res, res, 3), dtype=np.uint8)
    n_groups = int(n_outputs * share) // group
    for g in range(n_groups):
        base = rng.integers(0, 256, (res, res, 3)).astype(np.float32)
        sigma = rng.uniform(5, 15, (group, 1, 1, 1))
        copies = base + sigma * rng.normal(size=(group, res, res, 3))
        outputs[g * group : (g + 1) * group] = np.clip(copies, 0, 255).astype(np.uint8)
    return outputs


def time_filter(
    candidate_filter: Callable[[np.ndarray], Any],
    n_outputs: int,
    res: int,
    share: float,
    group: int,
) -> dict[str, float | int]:
    """Seconds an attack's candidate filter (``Attack.filter_outputs``) takes over ``copy_groups``
    outputs, with the cliques it kept and the searches it stopped at its budget."""
    outputs = copy_groups(n_outputs, res, share, group)
    start = time.perf_counter()
    found = candidate_filter(outputs)
    return {
        "filter_s": time.perf_counter() - start,
        "cliques": len(found.cliques),
        "searches_capped": found.capped,
    }
