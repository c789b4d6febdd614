"""Throughput of the scoring engine at the issue's size: 10^5 outputs against 10^4 members, 16×16.

Skipped by the default `--benchmark-skip`; run with `pytest --benchmark-only
tests/test_metrics_benchmark.py` (or `tox -e bench`). `python -m bench perf` times the same
workload against generation and writes reports/performance.md.
"""

from __future__ import annotations

import pytest

from bench.metrics import score
from bench.runner.workload import BANDS, DELTAS, synthetic_workload

N_OUTPUTS = 100_000


@pytest.mark.benchmark(group="metrics")
def test_score_100k_outputs_against_10k_members(benchmark):
    outputs, members, nonmembers = synthetic_workload(N_OUTPUTS, 10_000, 1_000, 16)
    args = (outputs, members, nonmembers, BANDS, DELTAS)
    result = benchmark.pedantic(score, args=args, rounds=1, iterations=1)
    benchmark.extra_info["outputs_per_second"] = N_OUTPUTS / benchmark.stats.stats.mean
    assert result["n_outputs"] == N_OUTPUTS
    assert result["ams"]["high"] > 0
