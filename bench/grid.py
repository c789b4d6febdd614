"""`bench grid`: every applicable attack × trained zoo model × seed, into the leaderboard's records.

Cells that already have a record are skipped, so an interrupted grid resumes where it stopped.
"""

from __future__ import annotations

import argparse

from bench.cards import attack_card, dataset_card
from bench.cliargs import positive_int, seed_list
from bench.harness import default_budget, record_path, run_cell
from bench.paths import reports_dir
from bench.summary import summary


def cmd_grid(args: argparse.Namespace) -> int:
    """Every applicable attack × trained model × seed; cells with a record already are skipped."""
    from bench.cards import attack_names, model_cards
    from bench.zoo.load import checkpoint_status

    attacks = args.attacks.split(",") if args.attacks else attack_names()
    models = [
        c
        for c in model_cards()
        if c.profile == args.profile and (not args.models or c.name in args.models.split(","))
    ]
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
                if record_path(probe).is_file():
                    print(f"skip {name} {mcard.name} seed {seed}: record exists", flush=True)
                    continue
                rec = run_cell(
                    name,
                    mcard.scale,
                    profile=args.profile,
                    seed=seed,
                    budget=budget,
                    model=mcard.name,
                    root=args.data_root,
                    progress=False,
                    results=reports_dir(),
                )
                print(summary(rec, record_path(rec)), flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grid", help="run every applicable attack on every trained model and seed")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    p.add_argument("--budget", type=positive_int, default=None)
    p.add_argument("--attacks", default=None, help="comma-separated subset of attacks")
    p.add_argument("--models", default=None, help="comma-separated subset of zoo models")
    p.add_argument("--data-root", default=None)
    p.set_defaults(func=cmd_grid)
