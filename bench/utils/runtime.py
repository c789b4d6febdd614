"""How this process computes: torch's threads (``BENCH_THREADS``), a compiled UNet
(``BENCH_COMPILE``), and a notice when other work already fills the machine.

Nothing used to set torch's threads, so three jobs on 2 cores each started 2 threads and the
README's main job took 27 minutes instead of 2 (issue 17). The CLI now sets them once at entry:
``BENCH_THREADS`` if given, else ``OMP_NUM_THREADS`` where it is set (torch's own knob, honoured
rather than overridden: torchrun, under ``accelerate launch``, sets it to 1 for each of its
processes so they do not oversubscribe the cores), else the CPUs this process may use (its
affinity mask, which Slurm and ``taskset`` narrow). ``bench grid --executor local`` splits them
among its workers.
"""

from __future__ import annotations

import functools
import os

import torch

from bench.errors import BenchError
from bench.utils.notice import notice

# Threads per CPU a BENCH_THREADS may ask for: beyond it, a typo, not a choice.
OVERSUBSCRIBE = 4


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _positive(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BenchError(
            f"{name}={text!r} is not a positive integer; give a number of threads (this process "
            f"may use {available_cpus()} CPUs) or unset it"
        )
    # More threads than cores only makes them wait for each other (and 999,999 asks the OS for
    # as many); a few per core still lets a user oversubscribe on purpose.
    most = OVERSUBSCRIBE * available_cpus()
    if value > most:
        raise BenchError(
            f"{name}={text} is more threads than {OVERSUBSCRIBE}× the {available_cpus()} CPUs "
            f"this process may use; give at most {most}"
        )
    return value


def requested_threads() -> int:
    """``BENCH_THREADS``, else a valid ``OMP_NUM_THREADS``, else ``available_cpus()``."""
    text = os.environ.get("BENCH_THREADS", "").strip()
    if text:
        return _positive("BENCH_THREADS", text)
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    return available_cpus()


def apply_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads (``requested_threads()`` unless given); returns them."""
    n = requested_threads() if threads is None else threads
    torch.set_num_threads(n)
    return n


def split_threads(total: int, workers: int) -> int:
    """Threads for each of ``workers`` processes sharing ``total`` (at least one each)."""
    return max(1, total // max(1, workers))


def compile_requested() -> bool:
    """Whether ``BENCH_COMPILE`` asks for a compiled UNet: 1 yes, 0 or unset no."""
    text = os.environ.get("BENCH_COMPILE", "").strip()
    if text in ("", "0"):
        return False
    if text == "1":
        return True
    raise BenchError(f"BENCH_COMPILE={text!r}: use 1 (compile the UNet) or 0 (eager), or unset it")


def machine_load() -> float | None:
    """The 1-minute load average; None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@functools.cache
def warn_if_loaded() -> bool:
    """One notice, once per process, when the 1-minute load average already reaches the CPUs
    this process may use: other work then holds every core, so this run's threads share them
    and its timings (and the long-run estimate) come out slower than on a quiet machine.
    Returns whether it warned."""
    load, cpus = machine_load(), available_cpus()
    if load is None or load < cpus:
        return False
    notice(
        f"the machine is already loaded (1-minute load average {load:.1f} on the {cpus} CPUs "
        f"this process may use, {torch.get_num_threads()} torch threads); this run shares them "
        "and takes longer than on a quiet machine (BENCH_THREADS sets its threads)"
    )
    return True
