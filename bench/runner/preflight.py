"""What a run checks and says before its slow work: the folders it will write, the disk its
outputs need, the memory its attack needs, and how long its sampling will take.

An unwritable folder inside BENCH_HOME or a full disk used to surface at the first write, after
the sampling that came before it; a budget no machine can finish started sampling without a word.
Here each folder is probed, the outputs' size is set against the free space, and a run whose
sampling would take longer than ``LONG_RUN_SECONDS`` prints its estimate first, so the user can
stop it (or pick a smaller budget) before it has cost anything.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from bench.attacks.store import shard_indices
from bench.errors import BenchError
from bench.utils.arrays import memory_bytes
from bench.utils.folders import probe_writable
from bench.utils.notice import notice
from bench.utils.writefaults import free_bytes, human_bytes
from bench.zoo.denoiser import Denoiser

LONG_RUN_SECONDS = 600.0  # a run this long or longer is announced with its estimate
# Below this many UNet evaluations a run is not timed: timing costs three forward passes of
# _TIMED_BATCH images, under 1% of such a run.
TIMED_FROM = 5_000
_TIMED_BATCH = 16
_SHARD_OVERHEAD = 2_048  # npz headers, costs and labels: bytes per shard besides its pixels


def check_folders(folders: dict[Path, str]) -> None:
    """Probe each folder a run will write into (``{path: what}``), before any slow work."""
    for path, what in folders.items():
        probe_writable(path, what)


def missing_outputs(
    run_dir: Path, budget: int, shard: int, donors: tuple[tuple[int, Path], ...] = ()
) -> int:
    """Outputs the cell still has to make: the budget less the shards on disk, its own or a
    donor's full ones (the same cell at another budget, ``bench.records.RunKey.other_budgets``).
    It reads the folders, never the budget's range: a budget of 10^12 is refused, not listed."""
    made = {i for i in shard_indices(run_dir) if i * shard < budget}
    for n, folder in donors:
        made |= {i for i in shard_indices(folder) if (i + 1) * shard <= min(n, budget)}
    return budget - sum(min(shard, budget - i * shard) for i in made)


def output_bytes(n: int, resolution: int, shard: int) -> int:
    """Disk taken by ``n`` uint8 outputs at ``resolution`` in shards of ``shard`` images."""
    return n * resolution * resolution * 3 + -(-n // shard) * _SHARD_OVERHEAD


def check_disk(folder: Path, needs: int) -> None:
    """Refuse, before sampling, a run whose outputs do not fit on the disk of ``folder``."""
    free = free_bytes(folder)
    if free is not None and needs > free:
        raise BenchError(
            f"the run's outputs need about {human_bytes(needs)} under {folder} and "
            f"{human_bytes(free)} are free; make room, point BENCH_HOME at a larger disk or "
            "lower --budget"
        )


def check_memory(attack: str, params: dict[str, object], needs: int, budget: int) -> None:
    """Refuse a run whose attack would need more memory than the machine has
    (``Attack.peak_memory``), before any model is loaded: `--set per_caption=1e12` on
    text-conditional was killed by the kernel's OOM killer at 23 GB."""
    has = memory_bytes()
    if needs > has:
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        raise BenchError(
            f"{attack} at N_G {budget:,} with {shown} needs up to {human_bytes(needs)} of memory, "
            f"more than this machine's {human_bytes(has)}; lower the budget or the parameter "
            "that sets the size"
        )


def duration(seconds: float) -> str:
    """``seconds`` in the largest unit that reads well: s, min, h, days or years."""
    for unit, size in (("years", 365 * 86_400), ("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size:
            return (
                f"{seconds / size:,.0f} {unit}"
                if unit == "years"
                else f"{seconds / size:.1f} {unit}"
            )
    return f"{seconds:.0f} s"


@torch.no_grad()
def seconds_per_evaluation(
    denoiser: Denoiser, resolution: int, captions: list[str] | None = None
) -> float:
    """Wall seconds of one UNet evaluation of one image, the fastest of three timed batches (so
    the first's allocations are not counted). Sampling runs batches of 256, so this errs long.
    Reads no random numbers: the run's seeds are unaffected."""
    x = torch.zeros(_TIMED_BATCH, 3, resolution, resolution, device=denoiser.device)
    texts = (list(captions or [""]) * _TIMED_BATCH)[:_TIMED_BATCH] if denoiser.conditional else None
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        denoiser(x, 1, texts)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        best = min(best, time.perf_counter() - start)
    return best / _TIMED_BATCH


def announce_long_run(
    denoiser: Denoiser,
    resolution: int,
    steps: int,
    missing: int,
    disk: int,
    run_dir: Path,
    captions: list[str] | None = None,
    pool_disk: int = 0,
) -> float | None:
    """Print the estimate of a run whose sampling would take ``LONG_RUN_SECONDS`` or more;
    returns the estimated seconds (None when the run is too small to be worth timing).
    ``pool_disk`` is what the sample pool's new batches will take besides the shards."""
    evaluations = missing * steps
    if evaluations < TIMED_FROM:
        return None
    each = seconds_per_evaluation(denoiser, resolution, captions)
    seconds = evaluations * each
    if seconds >= LONG_RUN_SECONDS:
        notice(
            f"this run samples {missing:,} outputs × {steps} steps = {evaluations:,} UNet "
            f"evaluations, about {duration(seconds)} here ({1000 * each:.2g} ms each, measured; "
            f"preparation and guidance add to it), and writes about {human_bytes(disk)} under "
            f"{run_dir}"
            + (f" and {human_bytes(pool_disk)} to the sample pool" if pool_disk else "")
            + "; Ctrl-C keeps finished shards and the same command resumes"
        )
    return seconds
