"""`bench floors`: measure seed variation of one attack and write CI's floors and mutations."""

from __future__ import annotations

import argparse

from bench.cards import validate
from bench.cli.args import add_force_argument, json_object, positive_int, seed_list
from bench.runner.floors import check_mutations, floors_path, measure_floors
from bench.utils.atomic import write_json_atomic


def cmd_floors(args: argparse.Namespace) -> int:
    overrides = args.overrides or {}
    seeds = args.seeds
    validate.budget_allowed(args.budget, args.force)
    result = measure_floors(args.attack, args.model, seeds, args.budget, overrides, seeds[0])
    result["mutations"] = check_mutations(result)
    path = floors_path(args.attack, args.model)
    write_json_atomic(path, result)
    for name, m in result["metrics"].items():
        print(f"{name}: mean {m['mean']:.4f} ± {m['std']:.4f} -> floor {m['floor']:.4f}")
    for name, m in result["mutations"].items():
        print(f"mutation '{name}': {'caught' if m['caught'] else 'NOT caught by these floors'}")
    print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("floors", help="measure seed variation and write CI's attack floors")
    p.add_argument("--attack", required=True, help="attack card name (see `bench list attacks`)")
    p.add_argument("--model", required=True, help="zoo model card name")
    p.add_argument(
        "--seeds", type=seed_list, default=[0, 1, 2], help="seeds measured (default: 0,1,2)"
    )
    p.add_argument(
        "--budget",
        type=positive_int,
        default=128,
        help=f"N_G per seed; at most {validate.BUDGET_LIMIT:,} unless --force",
    )
    add_force_argument(p)
    p.add_argument(
        "--overrides", type=json_object, default=None, help="JSON of attack parameters to override"
    )
    p.set_defaults(func=cmd_floors)
