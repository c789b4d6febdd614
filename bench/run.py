"""`bench run`: one benchmark cell from the command line, its summary, and its record."""

from __future__ import annotations

import argparse
import json

from bench.cards import attack_card
from bench.cliargs import finite_float
from bench.harness import add_cell_arguments, cell_from_args, record_path
from bench.overrides import parse_sets
from bench.results import results_root
from bench.summary import summary


def cmd_run(args: argparse.Namespace) -> int:
    results = results_root(args)
    overrides = parse_sets(attack_card(args.attack), args.profile, args.set)
    if args.lam is not None:
        overrides["guidance_scale"] = args.lam
    record = cell_from_args(args, overrides, results=results)
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
        help="guidance scale for side/side-ti",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)
