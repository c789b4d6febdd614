"""`bench grid`: every applicable attack × trained zoo model × seed, into the leaderboard's records.

The cells run in this process (``--executor serial``) or as submitit jobs (``local``, ``slurm``);
see ``bench.runner.grid`` and ``bench.runner.executors``.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.cards import validate
from bench.cli.args import (
    add_budget_arguments,
    add_compile_argument,
    compile_from_args,
    positive_int,
    seed_list,
)
from bench.errors import BenchError
from bench.records import record_path
from bench.report.summary import summary
from bench.runner.executors import EXECUTORS, run_cells
from bench.runner.grid import grid_cells


def executor_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """submitit parameters from the Slurm flags and every ``--executor-option KEY=VALUE``."""
    params: dict[str, Any] = {"timeout_min": args.timeout_min}
    if args.slurm_partition:
        params["slurm_partition"] = args.slurm_partition
    if args.gpus:
        params["gpus_per_node"] = args.gpus
    for item in args.executor_option or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--executor-option {item!r}: expected KEY=VALUE")
        params[key] = _scalar(text)
    return params


def _scalar(text: str) -> Any:
    """An integer or a number where the text is one, else the text (submitit checks the types)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def subset(text: str | None, flag: str, known: list[str]) -> list[str] | None:
    """The names a ``--attacks``/``--models`` list gives (None: not given, the whole grid), each
    one the registry knows. An empty list used to mean the whole grid (``--attacks ''`` ran
    every attack) and an unknown name nothing at all (exit 0, no output)."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise BenchError(f"{flag} {text!r} has an empty name; give comma-separated names")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BenchError(
            f"{flag}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(known))}"
        )
    return names


def cmd_grid(args: argparse.Namespace) -> int:
    """Every applicable attack × trained model × seed; cells with a current record are skipped."""
    from bench.cards import attack_names, model_cards

    parameters = executor_parameters(args)
    if args.budget is not None:
        validate.budget_allowed(args.budget, args.force)
    ranked = [c.name for c in model_cards() if c.profile == args.profile and c.role == "ranked"]
    failed = 0
    cells = grid_cells(
        args.profile,
        args.seeds,
        args.budget,
        subset(args.attacks, "--attacks", attack_names()),
        subset(args.models, "--models", ranked),
        args.data_root,
    )
    outcomes = run_cells(
        cells, args.executor, parameters, args.array_parallelism, compile_from_args(args)
    )
    for outcome in outcomes:
        if outcome.record is None:
            failed += 1
            print(f"failed {outcome.cell}: {outcome.error}", flush=True)
        else:
            print(summary(outcome.record, record_path(outcome.record)), flush=True)
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grid", help="run every applicable attack on every trained model and seed")
    p.add_argument(
        "--profile", default="cpu", help="cpu, cpu32, cpu64 or paper: which zoo (default: cpu)"
    )
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="grid seeds (default: 0,1,2)")
    add_budget_arguments(p)
    p.add_argument("--attacks", default=None, help="comma-separated subset of attacks")
    p.add_argument("--models", default=None, help="comma-separated subset of zoo models")
    p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
    add_compile_argument(p)
    jobs = p.add_argument_group("executors (local and slurm need the 'scale' extra: submitit)")
    jobs.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="serial",
        help="serial: cell after cell in this process; local: each cell a subprocess; "
        "slurm: each cell a task of one Slurm job array",
    )
    jobs.add_argument(
        "--array-parallelism",
        type=positive_int,
        default=None,
        help="cells running at once (local default 1; slurm: the array's %%N limit)",
    )
    jobs.add_argument(
        "--timeout-min", type=positive_int, default=24 * 60, help="time limit of each cell's job"
    )
    jobs.add_argument("--slurm-partition", default=None, help="slurm: the partition")
    jobs.add_argument("--gpus", type=positive_int, default=None, help="GPUs per cell's job")
    jobs.add_argument(
        "--executor-option",
        action="append",
        metavar="KEY=VALUE",
        help="any submitit parameter, e.g. slurm_account=A, cpus_per_task=4, mem_gb=32 "
        "(repeatable)",
    )
    p.set_defaults(func=cmd_grid)
