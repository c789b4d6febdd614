"""Timing a piece of work on a machine that may be busy: the fastest of a few repeats.

`bench perf`'s ratios and a run's estimate (``bench.runner.prices``) time the same way, so their
numbers agree: one untimed warm-up call (lazy initialisation, allocator growth), then the fastest
of ``repeats`` timed calls, since a busy machine only ever slows a call down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def fastest(work: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each callable's fastest wall time of ``repeats``, after one untimed warm-up call each
    (lazy initialisation, allocator growth), the callables taking turns."""
    for fn in work.values():
        fn()
    best = dict.fromkeys(work, float("inf"))
    for _ in range(repeats):
        for name, fn in work.items():
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
