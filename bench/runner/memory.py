"""Peak memory of scoring and of streaming generation against N_G, which must stay flat.

Scoring converts outputs to float vectors a bounded chunk at a time (``bench.metrics.vectors``)
and generation writes each batch to its shard (and the sample pool) as it is made, so neither
should hold more as N_G grows. `bench perf` measures both at several N_G as Python's tracemalloc
peak during the step: it sees every numpy array and Python object, which is where anything that
follows N_G lives (images, their float vectors, neighbour results), and not torch's or faiss's
internal buffers, which are sized by a batch or by the member index, never by N_G. It is exact and
repeatable, where a resident-memory delta is blurred by the allocator reusing what earlier steps
freed. The outputs a scoring step is given are made before it starts: they are its input.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from bench.attacks.base import ModelView
from bench.attacks.generation import generate_outputs
from bench.attacks.store import RunStore
from bench.metrics import score
from bench.runner.throughput import PerfModel
from bench.runner.workload import BANDS, DELTAS, synthetic_workload
from bench.utils.parallel import SINGLE
from bench.zoo.build import build_sampler
from bench.zoo.pool import ModelPool

METHOD = "tracemalloc peak (numpy arrays and Python objects)"


def peak_above(step: Callable[[], object]) -> tuple[int, str]:
    """The peak bytes ``step`` allocates through Python and numpy, and how they were measured."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1], METHOD
    finally:
        tracemalloc.stop()


def scoring_memory(n: int, members: int, resolution: int) -> tuple[int, str]:
    """Peak memory of scoring ``n`` outputs against ``members`` members and 1,000 non-members."""
    outputs, mem, non = synthetic_workload(n, members, 1_000, resolution)
    return peak_above(lambda: score(outputs, mem, non, BANDS, DELTAS))


def streaming_memory(model: PerfModel, n: int) -> tuple[int, str]:
    """Peak memory of generating ``n`` unguided outputs into a run store and a sample pool
    (both in a temporary folder), with one sampling step: each step replaces the batch it
    refines, so the steps change the time, not the memory."""
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        root = Path(tmp)
        store = RunStore(root / "run", ranks=SINGLE, resolution=model.card.resolution)
        store.pool = ModelPool("perf" + "0" * 60, model.denoiser, root=root / "pool")
        view = ModelView(
            denoiser=model.denoiser,
            make_sampler=lambda: build_sampler(model.card),
            resolution=model.card.resolution,
            sampling_steps=1,
            conditioning="unconditional",
            store=store,
        )
        return peak_above(lambda: generate_outputs(view, n, 0, progress=False))
