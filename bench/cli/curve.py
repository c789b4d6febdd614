"""`bench curve`: one attack's extraction against its budget, from one run per seed."""

from __future__ import annotations

import argparse

from bench.cards import attack_card, model_card, validate
from bench.cli.args import (
    add_compile_argument,
    add_force_argument,
    add_model_path_arguments,
    add_results_arguments,
    budget_list,
    compile_from_args,
    overrides_from_args,
    results_from_args,
    seed_list,
)
from bench.errors import BenchError
from bench.records import CURVE_RECORDS
from bench.runner.curves import run_curve
from bench.runner.spec import CellSpec, FolderModel, RunOptions, ZooModel


def cmd_curve(args: argparse.Namespace) -> int:
    for budget in args.budgets:
        validate.budget_allowed(budget, args.force)
    acard = attack_card(args.attack)
    profile = args.profile if args.model_path or not args.model else model_card(args.model).profile
    overrides = overrides_from_args(args, acard, profile)
    results = results_from_args(args)
    if args.model_path is not None:
        model = FolderModel(args.model_path, args.scale, args.members, args.sampler, args.steps)
    elif args.model is None:
        raise BenchError("give --model (a zoo card) or --model-path (a diffusers folder)")
    else:
        model = ZooModel(args.model)
    spec = CellSpec(
        args.attack, model, profile=profile, overrides=overrides, data_root=args.data_root
    )
    options = RunOptions(results=results, compile=compile_from_args(args))
    paths = run_curve(spec, args.budgets, args.seeds, options)
    print(f"wrote {len(paths)} curve records under {results / CURVE_RECORDS}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curve", help="extraction against output budget: one run per seed, scored on its prefixes"
    )
    p.add_argument("--attack", required=True, help="attack card name (see `bench list attacks`)")
    p.add_argument("--model", default=None, help="zoo model card name")
    add_model_path_arguments(p)
    p.add_argument("--scale", default=None, help="with --model-path: the member set it trained on")
    p.add_argument("--members", default=None, metavar="MANIFEST", help="or: its member files")
    p.add_argument("--profile", default="cpu", help="with --model-path: the profile's N_G")
    p.add_argument(
        "--budgets",
        type=budget_list,
        default=[32, 64, 128, 256, 512, 1024],
        help=f"output budgets N_G; each at most {validate.BUDGET_LIMIT:,} unless --force",
    )
    add_force_argument(p)
    p.add_argument(
        "--seeds", type=seed_list, default=[0, 1, 2], help="one run per seed (default: 0,1,2)"
    )
    p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a card parameter")
    add_compile_argument(p)
    add_results_arguments(p)
    p.set_defaults(func=cmd_curve)
