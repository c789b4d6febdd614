"""`bench perf`'s ratios as pytest-benchmark cases, on the tiny world's model (8 px, and its
architecture rebuilt at 16 px as the 32 px model is rebuilt from the 16 px one).

Skipped by the default ``--benchmark-skip``; run with ``pytest --benchmark-only
tests/test_throughput_benchmark.py`` (or ``tox -e bench``). Each case times the suite's side of a
ratio and stores the ratio, measured in the same case, in ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.attacks.base import GuidanceShape
from bench.cards import model_card
from bench.runner import memory
from bench.runner.poolsaving import grid_saving
from bench.runner.throughput import (
    guided_vs_unguided,
    loop_vs_forward,
    perf_model,
    train_vs_bare,
)

RESOLUTIONS = [8, 16]
T = TypeVar("T")


def _once(benchmark: Any, fn: Callable[[], T]) -> T:
    """One timed call: each case repeats its own measurements inside."""
    return benchmark.pedantic(fn, rounds=1, iterations=1)


@pytest.mark.benchmark(group="sampling")
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_sampling_loop_against_bare_forward(benchmark, trained: Path, res: int) -> None:
    model = perf_model(model_card("tiny-8"), res)
    result = _once(benchmark, lambda: loop_vs_forward(model, 64, 4, repeats=2))
    benchmark.extra_info.update(result)
    assert result["ratio"] > 0


@pytest.mark.benchmark(group="sampling")
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_guided_against_unguided_step(benchmark, trained: Path, res: int) -> None:
    model = perf_model(model_card("tiny-8"), res)
    shape = GuidanceShape(classes=8, width=32, time_dependent=True, scale=5.0, stem=1)
    result = _once(benchmark, lambda: guided_vs_unguided(model, 64, 4, repeats=2, guidance=shape))
    benchmark.extra_info.update(result)
    assert result["ratio"] > 1  # a guided step adds a classifier's forward and backward


@pytest.mark.benchmark(group="training")
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_training_step_against_a_bare_loop(benchmark, trained: Path, res: int) -> None:
    model = perf_model(model_card("tiny-8"), res)
    result = _once(benchmark, lambda: train_vs_bare(model, 4, repeats=2))
    benchmark.extra_info.update(result)
    assert result["ratio"] > 0


@pytest.mark.benchmark(group="memory")
@pytest.mark.parametrize("kind", ["scoring", "streaming"])
def test_peak_memory_against_n_g(benchmark, trained: Path, kind: str) -> None:
    model = perf_model(model_card("tiny-8"), 8)

    def peaks() -> dict[int, int]:
        if kind == "scoring":
            return {n: memory.scoring_memory(n, 64, 8)[0] for n in (512, 2_048, 8_192)}
        return {n: memory.streaming_memory(model, n)[0] for n in (512, 2_048, 8_192)}

    result = _once(benchmark, peaks)
    benchmark.extra_info.update({f"peak_bytes_{n}": v for n, v in result.items()})
    assert result[8_192] <= 1.25 * result[2_048]


@pytest.mark.benchmark(group="pool")
def test_pool_saving_on_a_grid(benchmark, trained: Path) -> None:
    saving = _once(benchmark, lambda: grid_saving(model_card("tiny-8"), (0, 1, 2)))
    benchmark.extra_info.update(alone=saving.alone, before=saving.before, pooled=saving.pooled)
    assert saving.pooled < saving.before
