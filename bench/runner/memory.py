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

import numpy as np

from bench.attacks.base import ModelView
from bench.attacks.generation import generate_outputs
from bench.attacks.store import RunStore
from bench.data.subset import Subset
from bench.metrics import score
from bench.metrics.tiers import canary_metrics
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
    """Peak memory of a record's scoring of ``n`` outputs: ``score`` against ``members`` members
    and 1,000 non-members, then the per-tier scores of a ladder model (an eighth of the members
    duplicated ×2, an eighth ×4), as `bench run` and `bench curve` score a ladder's outputs."""
    outputs, mem, non = synthetic_workload(n, members, 1_000, resolution)
    counts = np.ones(members, dtype=np.int64)
    counts[: members // 8], counts[members // 8 : members // 4] = 2, 4
    ladder = Subset(files=[""] * members, images=mem, counts=counts, captions=[])

    def step() -> None:
        score(outputs, mem, non, BANDS, DELTAS)
        canary_metrics(outputs, ladder, BANDS, DELTAS)

    return peak_above(step)


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
