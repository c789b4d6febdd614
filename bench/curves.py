"""`bench curve`: one attack's extraction against its budget, from one run per seed.

SIDE's claim is about efficiency (more distinct members per generation; its E[N_umem] formula),
which a single N_G cannot show: at a large budget small models saturate and attacks tie. For an
attack whose outputs are drawn independently in a fixed order (``Attack.prefix_valid``), the first
N outputs of a seeded run at the largest budget *are* a run at budget N, so each seed runs once and
every smaller budget is scored on a prefix. Its cost is the preparation (SIDE's synthetic set and
classifier) plus the per-output cost times N. Curve records live apart from the leaderboard's runs,
except that a full run at the shared N_G with the card's defaults is exactly a grid cell, so it is
also written as one rather than run twice.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench import validate
from bench.attacks.base import load_attack
from bench.cards import attack_card, dataset_card, model_card
from bench.cliargs import budget_list, seed_list
from bench.data.subset import members, nonmembers
from bench.errors import BenchError
from bench.harness import (
    add_force_argument,
    add_model_path_arguments,
    default_budget,
    params_key,
    resolve_model,
    run_cell,
)
from bench.metrics import score
from bench.metrics.tiers import canary_metrics
from bench.overrides import parse_sets
from bench.paths import bench_home, data_root
from bench.records import write_record
from bench.results import add_arguments as add_results_arguments
from bench.results import results_root, user_results
from bench.store import RunStore

CURVE_RECORDS = "curves/runs"


def prefix_cost(cost: dict[str, int], n: int, n_max: int) -> dict[str, int]:
    """Preparation once, plus the per-output share of everything else for ``n`` outputs."""
    out = {}
    for kind in ("unet", "classifier"):
        prep = int(cost.get(f"prep_{kind}_evaluations", 0))
        per_output = (int(cost[f"{kind}_evaluations"]) - prep) / n_max
        out[f"{kind}_evaluations"] = prep + round(per_output * n)
        out[f"prep_{kind}_evaluations"] = prep
    return out


def curve_path(record: dict[str, Any], root: Path) -> Path:
    tag = params_key(record["params"])
    return (
        root
        / CURVE_RECORDS
        / record["attack"]
        / record["model"]
        / f"seed{record['seed']}-n{record['budget']}-{tag}.json"
    )


def run_curve(
    attack: str,
    model: str | None,
    budgets: list[int],
    seeds: list[int],
    *,
    overrides: dict[str, Any] | None = None,
    root: str | None = None,
    progress: bool = True,
    results: Path | None = None,
    model_path: str | None = None,
    scale: str | None = None,
    profile: str = "cpu",
    sampler: str | None = None,
    steps: int | None = None,
    members_file: str | None = None,
) -> list[Path]:
    """One record per (budget, seed); prefixes of the largest run where the attack allows it.

    ``model_path`` names a user's diffusers folder (trained on ``scale``'s members, or on those
    listed in ``members_file``) to attack instead of the zoo model ``model``. Records go under
    ``results`` (the user's results folder unless given; reports/ to publish).
    """
    results = results or user_results()
    if not budgets:
        raise BenchError("give at least one budget")
    budgets = [validate.budget(b) for b in budgets]
    acard = attack_card(attack)
    folder: dict[str, Any] = {}
    listed = None
    if model_path is not None:
        if (scale is None) == (members_file is None):
            raise BenchError(
                "--model-path needs --scale or --members, the member set the model was trained on"
            )
        folder = {
            "model_path": model_path,
            "sampler": sampler,
            "steps": steps,
            "members": members_file,
        }
        target = resolve_model(acard, scale, profile, model, **folder)
        mcard, listed = target.card, target.listed
    elif model is None:
        raise BenchError("give --model (a zoo card) or --model-path (a diffusers folder)")
    else:
        mcard = model_card(model)
    params = validate.attack_params(acard, mcard.profile, overrides)
    prefix_valid = load_attack(acard, params).prefix_valid
    data = data_root(root)
    member_set, nonmember_set = members(mcard, data, listed), nonmembers(mcard, data)
    dcard = dataset_card(mcard.dataset)
    bands, deltas = dcard.bands(mcard.resolution), dcard.metrics["deltas"]
    grid_budget = default_budget(dcard, mcard.profile) if not overrides else None
    written = []
    for seed in seeds:
        runs = [max(budgets)] if prefix_valid else sorted(set(budgets))
        for n_run in runs:
            full = run_cell(
                attack,
                mcard.scale,
                profile=mcard.profile,
                seed=seed,
                budget=n_run,
                overrides=overrides,
                model=model,
                root=root,
                progress=progress,
                write=n_run == grid_budget,
                results=results,
                **folder,
            )
            outputs = RunStore(bench_home() / full["outputs"]).images()
            for n in sorted(set(budgets)) if prefix_valid else [n_run]:
                part = outputs[:n]
                record = {
                    **full,
                    "budget": n,
                    "prefix_of": n_run,
                    "cost": prefix_cost(full["cost"], n, n_run),
                    "metrics": score(part, member_set.images, nonmember_set.images, bands, deltas),
                    # The clique filter ranks the whole output set; curves score outputs only.
                    "candidates": None,
                    "canaries": canary_metrics(part, member_set, bands, deltas),
                }
                path = curve_path(record, results)
                write_record(path, record)
                written.append(path)
    return written


def cmd_curve(args: argparse.Namespace) -> int:
    acard = attack_card(args.attack)
    profile = args.profile if args.model_path or not args.model else model_card(args.model).profile
    overrides = parse_sets(acard, profile, args.set)
    for budget in args.budgets:
        validate.budget_allowed(budget, args.force)
    results = results_root(args)
    paths = run_curve(
        args.attack,
        args.model,
        args.budgets,
        args.seeds,
        overrides=overrides,
        root=args.data_root,
        progress=True,
        results=results,
        model_path=args.model_path,
        scale=args.scale,
        profile=args.profile,
        sampler=args.sampler,
        steps=args.steps,
        members_file=args.members,
    )
    print(f"wrote {len(paths)} curve records under {results / CURVE_RECORDS}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curve", help="extraction against output budget: one run per seed, scored on its prefixes"
    )
    p.add_argument("--attack", required=True)
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
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    p.add_argument("--data-root", default=None)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a card parameter")
    add_results_arguments(p)
    p.set_defaults(func=cmd_curve)
