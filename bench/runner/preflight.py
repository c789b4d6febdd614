"""What a run checks and says before its slow work: the folders it will write, the disk its
outputs need, the memory its attack needs, and how long its work will take, phase by phase.

An unwritable folder inside BENCH_HOME or a full disk used to surface at the first write, after
the sampling that came before it; a budget no machine can finish started sampling without a word.
Here each folder is probed, the outputs' size is set against the free space, and a run whose
work would take longer than ``LONG_RUN_SECONDS`` prints its estimate first, every phase counted
(preparation, classifier training, guided sampling, scoring: ``bench.runner.estimate``) and
priced (``bench.runner.prices``), so the user can stop it (or pick a smaller budget) before it has
cost anything. An estimate that named the outputs' sampling alone once announced a sixteenth of
the work of `--attack side --scale 5k`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.attacks.store import shard_indices
from bench.attacks.work import KIND_WORDS, Work
from bench.errors import BenchError
from bench.runner.prices import Prices
from bench.utils.arrays import memory_bytes
from bench.utils.folders import probe_writable
from bench.utils.notice import notice
from bench.utils.writefaults import free_bytes, human_bytes

LONG_RUN_SECONDS = 600.0  # a run this long or longer is announced with its estimate
# Below this many UNet and classifier evaluations a run is not timed: pricing every kind takes
# about as long as 1,300 of them (``bench.runner.prices``: four sampling calls of two steps on 64
# images, four classifier calls of each kind), so at most 3% of a run it prices; the smallest run
# that is announced (``LONG_RUN_SECONDS``) makes some 790,000 at 16 px on a quiet 2-core CPU.
TIMED_FROM = 50_000
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


def announce_long_run(
    work: Work,
    price: Callable[[Work], Prices],
    disk: int,
    run_dir: Path,
    pool_disk: int = 0,
) -> float | None:
    """Print the estimate of a run that would take ``LONG_RUN_SECONDS`` or more, phase by phase:
    what each phase still evaluates (``work``, counted by ``bench.runner.estimate``) at the
    prices ``price`` times; returns the estimated seconds (None when the run evaluates too little
    to be worth timing). ``pool_disk`` is what the sample pool's new batches will take besides
    the shards."""
    total = work.total()
    if sum(n for kind, n in total.items() if kind != "distances") < TIMED_FROM:
        return None
    prices = price(work)
    phases = [(p, prices.of(p)) for p in work.phases if any(p.counts().values())]
    seconds = sum(s for _, s in phases)
    if seconds >= LONG_RUN_SECONDS:
        each = "; ".join(f"{p.name}: {p.describe()}, {duration(s)}" for p, s in phases)
        notice(
            f"this run has {len(phases)} phase(s) of work left, about {duration(seconds)} here in "
            f"all ({each}; each kind of evaluation timed just now on this machine, "
            f"{_unit_prices(prices)}), and writes about {human_bytes(disk)} under {run_dir}"
            + (f" and {human_bytes(pool_disk)} to the sample pool" if pool_disk else "")
            + "; Ctrl-C keeps finished work and the same command resumes"
        )
    return seconds


def _unit_prices(prices: Prices) -> str:
    """The prices as "UNet evaluations 0.76 ms, scoring distances 2.1 ns", by kind."""
    return ", ".join(f"{KIND_WORDS[k]} {_short(s)}" for k, s in prices.seconds.items())


def _short(seconds: float) -> str:
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
