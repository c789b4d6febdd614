"""`bench run`: one benchmark cell from the command line, its summary, and its record."""

from __future__ import annotations

import argparse
import json

from bench.cli.args import (
    add_cell_arguments,
    compile_from_args,
    finite_float,
    results_from_args,
    spec_from_args,
)
from bench.records import record_path
from bench.report.summary import summary
from bench.runner.cell import run_cell
from bench.runner.spec import RunOptions


def cmd_run(args: argparse.Namespace) -> int:
    results = results_from_args(args)
    options = RunOptions(results=results, compile=compile_from_args(args))
    record = run_cell(spec_from_args(args), options)
    print(json.dumps(record) if args.json else summary(record, record_path(record, root=results)))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one attack against one zoo model and score it")
    add_cell_arguments(p)
    p.add_argument(
        "--lambda",
        dest="lam",
        type=finite_float,
        default=None,
        help="λ: the parameter whose alias in the attack card is lambda (a guidance scale)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the run record as JSON instead of a summary"
    )
    p.set_defaults(func=cmd_run)
