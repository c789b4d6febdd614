"""`bench perf`: every throughput ratio in one run, into reports/performance.md; with
``--shared-cpu``, the sampling slice alone and beside a spinning process per setting, into
reports/shared-cpu.md."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from bench.cards.validate import budget_allowed
from bench.cli.args import positive_int, positive_list, seed_list
from bench.report.performance import performance_markdown
from bench.report.sharedcpu import shared_cpu_markdown
from bench.runner.perf import QUICK, PerfSettings, measure
from bench.runner.sharedcpu import QUICK as SHARED_QUICK
from bench.runner.sharedcpu import SharedCpuSettings, measure_shared_cpu
from bench.utils.atomic import write_text_atomic
from bench.utils.paths import bench_home, reports_dir
from bench.utils.provenance import git_commit, machine, versions
from bench.utils.runtime import warn_if_loaded


def settings_from_args(args: argparse.Namespace) -> PerfSettings:
    """The defaults (issue 17's sizes), shrunk by ``--quick``, then each flag given."""
    settings = replace(PerfSettings(), **QUICK) if args.quick else PerfSettings()
    given = {
        "models": tuple(m.strip() for m in args.models.split(",")) if args.models else None,
        "outputs": args.outputs,
        "members": args.members,
        "filter_outputs": budget_allowed(args.filter_outputs) if args.filter_outputs else None,
        "memory_budgets": (
            tuple(budget_allowed(n) for n in args.memory_budgets) if args.memory_budgets else None
        ),
        "grid_seeds": tuple(args.grid_seeds) if args.grid_seeds else None,
    }
    return replace(settings, **{k: v for k, v in given.items() if v is not None})


def shared_settings_from_args(args: argparse.Namespace) -> SharedCpuSettings:
    """The shared-CPU workload (shrunk by ``--quick``) on the first of ``--models`` if given."""
    settings = SharedCpuSettings(**SHARED_QUICK) if args.quick else SharedCpuSettings()
    if args.models:
        settings = replace(settings, model=args.models.split(",")[0].strip())
    return settings


def report_path(args: argparse.Namespace, name: str) -> Path:
    """``--out``, else under BENCH_HOME for ``--quick`` (a smoke check never replaces the
    committed measurement), else ``reports/NAME.md``."""
    if args.out is not None:
        return Path(args.out).expanduser()
    if args.quick:
        return bench_home() / "perf" / f"{name}-quick.md"
    return reports_dir() / f"{name}.md"


def cmd_perf(args: argparse.Namespace) -> int:
    flags = " --shared-cpu" * args.shared_cpu + " --quick" * args.quick
    header = f"Measured by `python -m bench perf{flags}` on {machine()}"
    if args.shared_cpu:
        path = report_path(args, "shared-cpu")
        warn_if_loaded()
        shared = measure_shared_cpu(shared_settings_from_args(args), progress=True)
        text = shared_cpu_markdown(shared, f"{header}; commit `{git_commit()}`; {versions()}.")
    else:
        settings = settings_from_args(args)
        path = report_path(args, "performance")
        warn_if_loaded()
        result = measure(settings, progress=True)
        threads = f"{torch.get_num_threads()} torch threads"
        text = performance_markdown(
            result, f"{header}, {threads}; commit `{git_commit()}`; {versions()}."
        )
    write_text_atomic(path, text)
    print(text)
    print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perf",
        help="every throughput ratio (sampling, guidance, training, scoring, memory, the pool) "
        "in one run; writes reports/performance.md",
    )
    p.add_argument(
        "--models",
        default=None,
        help="unconditional zoo models timed, each at its own resolution (default "
        "celeba-64-cpu,celeba-1k-ladder-cpu32: one per profile this CPU trains); a card without "
        "a checkpoint is timed as its architecture with seeded weights",
    )
    p.add_argument(
        "--outputs", type=positive_int, default=None, help="outputs scored (default 100,000)"
    )
    p.add_argument(
        "--members", type=positive_int, default=None, help="members scored (default 10,000)"
    )
    p.add_argument(
        "--filter-outputs",
        type=positive_int,
        default=None,
        help="N_G at which each attack's candidate filter is timed against generation (default "
        "11,136: the largest N_G the suite runs)",
    )
    p.add_argument(
        "--memory-budgets",
        type=positive_list,
        default=None,
        help="N_G at which peak memory is measured (default 512,2048,8192; each within the "
        "suite's N_G limit, as for run)",
    )
    p.add_argument(
        "--grid-seeds",
        type=seed_list,
        default=None,
        help="seeds of the grid whose pool saving is counted (default 0,1,2)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny workloads, a smoke check in about a minute; writes under BENCH_HOME/perf/",
    )
    p.add_argument(
        "--shared-cpu",
        action="store_true",
        help="instead: a short sampling slice of the first model (default celeba-64-cpu) alone "
        "and beside a spinning process it starts, per torch threads (1, 2, all), OMP_WAIT_POLICY "
        "(unset, passive, active) and images per UNet call; writes reports/shared-cpu.md",
    )
    p.add_argument("--out", default=None, help="where the report goes (default: see --quick)")
    p.set_defaults(func=cmd_perf)
