"""`bench grid`: every applicable attack × trained zoo model × seed, into the leaderboard's records.

Cells that already have a current record are skipped, so an interrupted grid resumes where it
stopped; a record made by an older attack card or checkpoint is re-run and replaced.
The remaining cells run in this process (``--executor serial``, the default) or as jobs on
submitit's local or Slurm executor (``bench.executors``); a cell writes the same record wherever
it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.cards import attack_card, dataset_card
from bench.cliargs import positive_int, seed_list
from bench.errors import BenchError
from bench.executors import EXECUTORS, Cell, run_cells
from bench.harness import default_budget, record_path
from bench.records import read_record, staleness
from bench.summary import summary


def grid_cells(args: argparse.Namespace) -> list[Cell]:
    """The cells without a current record, in attack, model, seed order; the others are reported
    skipped, and a stale record (older attack card or checkpoint) is reported and re-run."""
    from bench.cards import attack_names, model_cards
    from bench.zoo.load import checkpoint_status

    attacks = args.attacks.split(",") if args.attacks else attack_names()
    models = [
        c
        for c in model_cards()
        if c.profile == args.profile
        and c.role == "ranked"
        and (not args.models or c.name in args.models.split(","))
    ]
    cells = []
    for name in attacks:
        acard = attack_card(name)
        for mcard in models:
            if mcard.conditioning not in acard.applies_to or checkpoint_status(mcard) != "trained":
                continue
            for seed in args.seeds:
                params = acard.params(args.profile)
                budget = args.budget or default_budget(dataset_card(mcard.dataset), args.profile)
                probe = {
                    "attack": name,
                    "model": mcard.name,
                    "seed": seed,
                    "budget": budget,
                    "params": params,
                }
                path = record_path(probe)
                stale = staleness(read_record(path)) if path.is_file() else "no record"
                if not stale:
                    print(f"skip {name} {mcard.name} seed {seed}: record exists", flush=True)
                    continue
                if path.is_file():
                    print(f"re-run {name} {mcard.name} seed {seed}: record is {stale}", flush=True)
                cells.append(
                    Cell(name, mcard.name, mcard.scale, seed, budget, args.profile, args.data_root)
                )
    return cells


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


def cmd_grid(args: argparse.Namespace) -> int:
    """Every applicable attack × trained model × seed; cells with a current record are skipped."""
    parameters = executor_parameters(args)
    failed = 0
    for outcome in run_cells(grid_cells(args), args.executor, parameters, args.array_parallelism):
        if outcome.record is None:
            failed += 1
            print(f"failed {outcome.cell}: {outcome.error}", flush=True)
        else:
            print(summary(outcome.record, record_path(outcome.record)), flush=True)
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grid", help="run every applicable attack on every trained model and seed")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    p.add_argument("--budget", type=positive_int, default=None)
    p.add_argument("--attacks", default=None, help="comma-separated subset of attacks")
    p.add_argument("--models", default=None, help="comma-separated subset of zoo models")
    p.add_argument("--data-root", default=None)
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
    jobs.add_argument("--slurm-partition", default=None)
    jobs.add_argument("--gpus", type=positive_int, default=None, help="GPUs per cell's job")
    jobs.add_argument(
        "--executor-option",
        action="append",
        metavar="KEY=VALUE",
        help="any submitit parameter, e.g. slurm_account=A, cpus_per_task=4, mem_gb=32 "
        "(repeatable)",
    )
    p.set_defaults(func=cmd_grid)
