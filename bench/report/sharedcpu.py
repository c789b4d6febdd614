"""reports/shared-cpu.md from one `bench perf --shared-cpu` run
(``bench.runner.sharedcpu.measure_shared_cpu``).

Two numbers per setting answer two questions. The ratio (beside the spinner over alone, both
measured in the same subprocess, in turns) says how well a setting holds up when the CPU is
shared. The shared time against the fastest quiet time of any setting says what a user actually
waits for: a setting that is slow alone can hold up well and still lose, so the suite's default
is chosen on both, and the report names the setting fastest beside the spinner.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from bench.runner.sharedcpu import GOAL


def _label(row: dict[str, Any]) -> tuple[str, str]:
    """Threads and wait policy as the subprocess itself read them, not as they were asked for."""
    return str(row["threads"]), row["wait_policy"] or "unset"


def _row(r: dict[str, Any], is_default: bool, quickest: float) -> list[str]:
    """One setting's row: its label, times alone and beside the spinner, and their ratios."""
    threads, policy = _label(r)
    split = f"{r['unet_batch']}" + (" (card's)" if r["setting"]["unet_batch"] is None else "")
    return [
        threads + (" **(suite's default)**" if is_default else ""),
        policy,
        split,
        f"{r['alone_s']:.3g}",
        f"{r['shared_s']:.3g}",
        f"**{r['ratio']:.2f}×**",
        f"{r['shared_s'] / quickest:.2f}×",
    ]


def shared_cpu_markdown(result: dict[str, Any], header: str) -> str:
    """The report: ``header`` (machine, commit) then one row per setting and the verdicts."""
    s, rows, default = result["settings"], result["rows"], result["default"]
    quickest = min(r["alone_s"] for r in rows)
    table = [_row(r, r["setting"] == default, quickest) for r in rows]
    best = min(rows, key=lambda r: r["shared_s"])
    mine = [r for r in rows if r["setting"] == default]
    named = (
        f"the suite's default (torch threads {default['threads']}, OMP_WAIT_POLICY "
        f"{default['wait_policy'] or 'unset'}, the card's images per call)"
    )
    if mine:
        verdict = (
            f"{named[0].upper()}{named[1:]} runs "
            f"**{mine[0]['ratio']:.2f}×** its quiet time beside the spinner (goal ≤ {GOAL}×: "
            f"{'met' if mine[0]['ratio'] <= GOAL else 'not met'}) and "
            f"{mine[0]['shared_s'] / quickest:.2f}× the fastest quiet setting."
        )
    else:
        verdict = f"{named[0].upper()}{named[1:]} was not among the settings tried."
    threads, policy = _label(best)
    return (
        f"# Speed on a shared CPU\n\n{header}\n\n"
        f"Workload: {s['batch']} images × {s['steps']} DDIM steps of `{s['model']}` "
        f"({result['cpus']} CPUs this process may use). Each setting ran in its own "
        "subprocess (OpenMP reads `OMP_WAIT_POLICY` when torch loads), which timed the "
        "workload alone and beside one CPU-bound spinning process it started itself, paused "
        f"and resumed in turns; each side is the median of {s['repeats']} repeat(s).\n\n"
        + tabulate(
            table,
            headers=[
                "torch threads",
                "OMP_WAIT_POLICY",
                "images per UNet call",
                "alone s",
                "beside a spinner s",
                "ratio",
                "beside vs fastest alone",
            ],
            tablefmt="github",
        )
        + f"\n\n{verdict} Fastest beside the spinner: torch threads {threads}, "
        f"OMP_WAIT_POLICY {policy}, {best['unet_batch']} images per call, "
        f"{best['shared_s']:.3g} s ({best['ratio']:.2f}× its own quiet time, "
        f"{best['shared_s'] / quickest:.2f}× the fastest quiet setting).\n"
    )
