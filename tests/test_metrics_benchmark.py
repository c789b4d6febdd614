"""Throughput of the scoring engine at the issue's size: 10^5 outputs against 10^4 members, 16×16.

Skipped by the default `--benchmark-skip`; run with `pytest --benchmark-only
tests/test_metrics_benchmark.py`. The outputs mix near-copies into random images so that the band
and range-search paths do real work, not only the nearest-neighbour pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import score

RES = 16
N_OUTPUTS = 100_000
N_MEMBERS = 10_000
N_NONMEMBERS = 1_000
BANDS = {
    "high": {"lo": 0.0, "hi": 0.09},
    "mid": {"lo": 0.09, "hi": 0.1},
    "low": {"lo": 0.1, "hi": 0.115},
}


@pytest.mark.benchmark(group="metrics")
def test_score_100k_outputs_against_10k_members(benchmark):
    rng = np.random.default_rng(0)
    members = rng.integers(0, 256, (N_MEMBERS, RES, RES, 3), dtype=np.uint8)
    nonmembers = rng.integers(0, 256, (N_NONMEMBERS, RES, RES, 3), dtype=np.uint8)
    outputs = rng.integers(0, 256, (N_OUTPUTS, RES, RES, 3), dtype=np.uint8)
    near = rng.choice(N_OUTPUTS, N_OUTPUTS // 100, replace=False)  # 1% noisy copies, ℓ2 ≈ 0.08
    noise = rng.normal(0, 20, (len(near), RES, RES, 3))
    source = members[rng.integers(0, N_MEMBERS, len(near))]
    outputs[near] = np.clip(source + noise, 0, 255).astype(np.uint8)

    args = (outputs, members, nonmembers, BANDS, [0.05, 0.1, 0.15])
    result = benchmark.pedantic(score, args=args, rounds=1, iterations=1)
    benchmark.extra_info["outputs_per_second"] = N_OUTPUTS / benchmark.stats.stats.mean
    assert result["n_outputs"] == N_OUTPUTS
    assert result["ams"]["high"] > 0
