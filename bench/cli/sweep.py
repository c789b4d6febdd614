"""`bench sweep`: one attack parameter over several values on one model, and a fixed-rule pick."""

from __future__ import annotations

import argparse

from bench.cards import attack_card
from bench.cards.overrides import parse_sets
from bench.cli.args import (
    add_cell_arguments,
    compile_from_args,
    profile_from_args,
    results_from_args,
    seed_list,
    spec_from_args,
)
from bench.errors import BenchError
from bench.runner.sweep import (
    run_sweep,
    selection_line,
    sweep_param,
    sweep_values,
    write_sweep_table,
)


def cmd_sweep(args: argparse.Namespace) -> int:
    """One record per value of one card parameter (by default the one whose card table lists
    sweep values), and a table under sweeps/."""
    root = results_from_args(args)
    acard = attack_card(args.attack)
    args.profile = profile_from_args(args)
    param = sweep_param(acard, args.param)
    base = parse_sets(acard, args.profile, args.set)
    if param in base:
        raise BenchError(f"--set fixes {param}, the parameter being swept")
    values = sweep_values(acard, args.profile, param, args.values)
    seeds = args.seeds or [args.seed]
    rec, per_value = run_sweep(
        spec_from_args(args, base), param, values, seeds, root, compile_from_args(args)
    )
    reference = acard.reference_values(param)
    incumbent = acard.params(args.profile)[param]
    cost_only = acard.declared[param].cost_only
    out = write_sweep_table(
        rec, param, per_value, root, reference, seeds, base, incumbent, cost_only
    )
    line = selection_line(per_value, param, reference, incumbent, cost_only)
    print(f"{line} Wrote {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="sweep one attack parameter (by default the card's with sweep values) on one model",
    )
    add_cell_arguments(p)
    p.add_argument(
        "--param",
        default=None,
        help="card parameter to sweep (default: the card's parameter with sweep values)",
    )
    p.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        help="tuning seeds (replace --seed): each value is compared with the card's per seed",
    )
    p.add_argument(
        "--values",
        type=lambda text: [v.strip() for v in text.split(",")],
        default=None,
        help="values to try (default: the card's sweep values)",
    )
    p.set_defaults(func=cmd_sweep)
