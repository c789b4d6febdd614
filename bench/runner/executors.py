"""Where `bench grid` runs its cells: in this process, as local subprocesses, or as a Slurm array.

Each cell (a ``CellSpec``: attack, model, seed, budget) is one job, and the spec is its payload. A
cell is idempotent and self-contained: it resumes from its own output shards, holds its own lock and
writes its own record, so jobs need no coordination and a rerun of the grid skips every cell that
has a record. ``serial`` is the grid as it always ran; ``local`` and ``slurm`` hand the cells to
submitit (``LocalExecutor`` runs each as a subprocess here, ``SlurmExecutor`` submits one job
array). submitit is imported only for those two, so the package works without it.

Threads: a local grid's workers share this machine, so each gets an equal share of this process's
torch threads (``BENCH_THREADS``; ``bench.utils.runtime``), not all of them: three workers on 2
cores with 2 threads each once made a 2-minute cell take 28. A Slurm task runs on its own
allocation and sets its threads from its own CPUs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.records import RunRecord
from bench.runner.cell import run_cell
from bench.runner.spec import CellSpec, RunOptions
from bench.utils.paths import bench_home, reports_dir
from bench.utils.runtime import apply_threads, split_threads

EXECUTORS = ("serial", "local", "slurm")
POLL_SECONDS = 1.0


def run_grid_cell(cell: CellSpec, compile: bool | None = None) -> RunRecord:
    """Run one cell and write its record into reports/; returns the record."""
    return run_cell(cell, RunOptions(progress=False, results=reports_dir(), compile=compile))


def run_grid_job(cell: CellSpec, threads: int | None, compile: bool | None) -> RunRecord:
    """A submitit job's body: set torch's threads (``threads``, else the job's own
    ``BENCH_THREADS`` or CPUs), then ``run_grid_cell``."""
    apply_threads(threads)
    return run_grid_cell(cell, compile)


@dataclass(frozen=True)
class Outcome:
    """A finished cell: its record, or why its job failed (the last line of its error)."""

    cell: CellSpec
    record: RunRecord | None = None
    error: str | None = None


def run_cells(
    cells: list[CellSpec],
    executor: str,
    parameters: dict[str, Any],
    parallelism: int | None,
    compile: bool | None = None,
) -> Iterator[Outcome]:
    """Run ``cells`` on ``executor``, yielding each outcome as its job finishes.

    ``parameters`` go to submitit's ``update_parameters`` (``timeout_min``, ``slurm_partition``,
    ``gpus_per_node``, …). ``parallelism`` bounds the jobs running at once: Slurm's array
    parallelism, or the number of local subprocesses (submitit itself would start them all),
    which split this process's torch threads among them (``job_threads``). ``compile`` as
    ``RunOptions.compile``.
    """
    if executor == "serial":
        for cell in cells:
            yield Outcome(cell, run_grid_cell(cell, compile))
        return
    submitit = _import_submitit()
    folder = bench_home() / "submitit"
    try:
        ex = submitit.AutoExecutor(folder=folder, cluster=executor)
        if executor == "slurm" and parallelism is not None:
            parameters = {"slurm_array_parallelism": parallelism, **parameters}
        ex.update_parameters(**parameters)
    # submitit refuses an unknown parameter with NameError, a mistyped one with an assertion, a
    # missing Slurm with RuntimeError and an impossible local request with ValueError.
    except (AssertionError, NameError, RuntimeError, ValueError) as exc:
        raise BenchError(f"executor {executor}: {_first_line(exc)}") from None
    job = functools.partial(
        run_grid_job, threads=job_threads(executor, parallelism), compile=compile
    )
    if executor == "slurm":
        yield from _array(submitit, ex, job, cells)
    else:
        yield from _window(submitit, ex, job, cells, parallelism or 1)


def job_threads(executor: str, parallelism: int | None) -> int | None:
    """Each local worker's share of this process's torch threads; None for a Slurm task, which
    takes its own allocation's."""
    if executor != "local":
        return None
    return split_threads(torch.get_num_threads(), parallelism or 1)


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise BenchError(
            "the local and slurm executors need submitit, which is not installed; "
            "pip install 'memorization-bench[scale]'"
        ) from None
    return submitit


def _array(
    submitit: Any, ex: Any, job: Callable[[CellSpec], RunRecord], cells: list[CellSpec]
) -> Iterator[Outcome]:
    """One Slurm job array, one task per cell; outcomes in cell order."""
    try:
        jobs = ex.map_array(job, cells)
    except (OSError, submitit.core.utils.FailedSubmissionError) as exc:
        raise BenchError(f"executor slurm could not submit: {_first_line(exc)}") from None
    print(f"submitted {len(jobs)} cells as Slurm array {jobs[0].job_id.split('_')[0]}", flush=True)
    for cell, job in zip(cells, jobs):
        yield _outcome(submitit, cell, job)


def _window(
    submitit: Any,
    ex: Any,
    job: Callable[[CellSpec], RunRecord],
    cells: list[CellSpec],
    limit: int,
) -> Iterator[Outcome]:
    """Local subprocesses, at most ``limit`` at a time; outcomes as they finish."""
    pending, running = list(cells), []
    while pending or running:
        while pending and len(running) < limit:
            cell = pending.pop(0)
            running.append((cell, ex.submit(job, cell)))
        finished = [(cell, job) for cell, job in running if job.done()]
        for cell, job in finished:
            running.remove((cell, job))
            yield _outcome(submitit, cell, job)
        if running and not finished:
            time.sleep(POLL_SECONDS)


def _outcome(submitit: Any, cell: CellSpec, job: Any) -> Outcome:
    try:
        return Outcome(cell, job.result())
    except submitit.core.utils.UncompletedJobError as exc:  # failed, killed or timed out
        return Outcome(cell, error=f"{_cause(exc)} (logs: {Path(job.paths.stderr)})")


def _cause(exc: BaseException) -> str:
    """The line that says why: the last line of a failed job's traceback, else the first line."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    rules = [i for i, line in enumerate(lines) if set(line.strip()) == {"-"}]
    if len(rules) >= 2 and rules[-1] > rules[-2] + 1:
        return lines[rules[-1] - 1].strip()
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
