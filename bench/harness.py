"""`bench run` and `bench sweep`: one benchmark cell, end to end, with its run record.

A cell is attack × zoo model × seed at a fixed output budget N_G. The harness alone holds the
members and non-members; the attack gets a ``ModelView``. The record names everything needed to
reproduce the numbers: cards and their versions, parameters, checkpoint digest, seed, commit,
library versions and machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench import validate
from bench.atomic import write_text_atomic
from bench.attacks.base import ModelView, load_attack
from bench.candidates import score_candidates
from bench.cards import (
    AttackCard,
    DatasetCard,
    ModelCard,
    attack_card,
    dataset_card,
    find_model,
    model_card,
)
from bench.cliargs import finite_float, positive_int, seed_int, seed_list
from bench.data.subset import Subset, members, nonmembers
from bench.errors import BenchError
from bench.locks import lock_cell, release
from bench.metrics import BAND_NAMES, score
from bench.overrides import parse_sets, typed_value
from bench.paths import bench_home, data_root, reports_dir
from bench.provenance import git_commit, machine, versions
from bench.records import SCHEMA, write_record
from bench.results import add_arguments as add_results_arguments
from bench.results import results_root, user_results
from bench.store import RunStore
from bench.zoo.build import build_sampler
from bench.zoo.load import load_denoiser, verified_digest


def resolve_model(attack: AttackCard, scale: str, profile: str, model: str | None) -> ModelCard:
    if model is not None:
        card = model_card(model)
        if (card.scale, card.profile) != (scale, profile):
            raise BenchError(
                f"model {card.name} is scale {card.scale}, profile {card.profile}; "
                f"it does not match --scale {scale} --profile {profile}"
            )
        if card.conditioning not in attack.applies_to:
            raise BenchError(
                f"attack {attack.name} applies to {', '.join(attack.applies_to)} "
                f"models; {card.name} is {card.conditioning}"
            )
        return card
    return find_model(scale, profile, attack.applies_to[0])


def default_budget(dcard: DatasetCard, profile: str) -> int:
    """The dataset card's N_G for a profile: the budget every attack is compared at."""
    try:
        return int(dcard.metrics["budget"][profile])
    except KeyError:
        raise BenchError(
            f"dataset card {dcard.path} sets no [metrics.budget] for profile "
            f"{profile!r}; pass --budget"
        ) from None


def params_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def run_cell(
    attack_name: str,
    scale: str,
    *,
    profile: str = "cpu",
    seed: int = 0,
    budget: int | None = None,
    overrides: dict[str, Any] | None = None,
    model: str | None = None,
    root: str | None = None,
    progress: bool = True,
    write: bool = True,
    results: Path | None = None,
) -> dict[str, Any]:
    """Run one attack on one zoo model, score it, and write its record under ``results`` (the
    user's results folder by default; reports/ only when publishing); returns the record."""
    seed = validate.seed(seed)
    if write and results is None:
        results = user_results()
    acard = attack_card(attack_name)
    params = validate.attack_params(acard, profile, overrides)
    attack = load_attack(acard, params)
    mcard = resolve_model(acard, scale, profile, model)
    digest = verified_digest(mcard)
    dcard = dataset_card(mcard.dataset)
    budget = validate.budget(default_budget(dcard, profile) if budget is None else budget)
    # Scoring inputs are checked before the attack runs, so a bad card fails in seconds, not hours.
    bands = dcard.bands(mcard.resolution)
    deltas = dcard.metrics.get("deltas")
    if not deltas:
        raise BenchError(f"dataset card {dcard.path} has no [metrics] deltas")
    data = data_root(root)
    member_set = members(mcard, data)
    nonmember_set = nonmembers(mcard, data)
    # Outputs and preparation are keyed by the weights and card versions they came from, so a
    # retrained model or a changed attack never resumes from stale shards or classifiers.
    model_key = Path(mcard.name) / digest[:12]
    run_rel = (
        model_key / f"{acard.name}-v{acard.version}-{params_key(params)}" / f"seed{seed}-n{budget}"
    )
    run_dir = bench_home() / "runs" / run_rel
    store = RunStore(run_dir, prep_root=bench_home() / "runs" / model_key / "prep" / f"seed{seed}")
    lock = lock_cell(run_dir)
    view = ModelView(
        denoiser=load_denoiser(mcard),
        make_sampler=lambda: build_sampler(mcard),
        resolution=mcard.resolution,
        sampling_steps=int(mcard.scheduler.get("sampling_steps", 50)),
        conditioning=mcard.conditioning,
        store=store,
        captions=tuple(member_set.captions) if acard.threat_model == "white-box+captions" else None,
    )
    started = time.time()
    result = attack.run(view, budget, seed)
    outputs = store.images()
    if len(outputs) != budget:
        raise BenchError(f"attack {acard.name} produced {len(outputs)} outputs, budget {budget}")
    metrics = score(
        outputs, member_set.images, nonmember_set.images, bands, deltas, progress=progress
    )
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "attack": acard.name,
        "attack_version": acard.version,
        "params": params,
        "model": mcard.name,
        "model_version": mcard.version,
        "dataset": dcard.name,
        "dataset_version": dcard.version,
        "scale": mcard.scale,
        "profile": profile,
        "seed": seed,
        "budget": budget,
        "cost": result.cost,
        "metrics": metrics,
        "candidates": (
            score_candidates(result.candidates, member_set.images, deltas)
            if result.filtering
            else None
        ),
        "canaries": canary_metrics(outputs, member_set, nonmember_set.images, bands, deltas),
        "info": result.info,
        "checkpoint_sha256": digest,
        "data_cache": {"members": member_set.cache_key, "nonmembers": nonmember_set.cache_key},
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
        "outputs": str(run_dir.relative_to(bench_home())),
        "wall_seconds": round(time.time() - started, 1),
    }
    if write:
        write_record(record_path(record, root=results), record)
    release(lock)
    return record


def canary_metrics(
    outputs: np.ndarray,
    member_set: Subset,
    nonmember_images: np.ndarray,
    bands: dict[str, Any],
    deltas: list[float],
) -> dict[str, Any] | None:
    """AMS/UMS and extraction against each tier of duplicated members (None without any).

    Carlini et al. found extraction concentrates in duplicated images; scoring each duplicate count
    apart shows the lowest tier an attack reaches, which the all-member numbers blur at 1k and 5k.
    """
    tiers = sorted({int(c) for c in member_set.counts if c > 1}, reverse=True)
    if not tiers:
        return None
    scored = []
    for times in tiers:
        m = score(
            outputs, member_set.images[member_set.counts == times], nonmember_images, bands, deltas
        )
        scored.append(
            {
                "times": times,
                "n": int((member_set.counts == times).sum()),
                "ums": m["ums"],
                "ams": m["ams"],
                "hit_rate": m["hit_rate"],
                "extracted": m["extracted"],
            }
        )
    return {"tiers": scored, "lowest_tier_reached": _lowest_tier(scored)}


def _lowest_tier(tiers: list[dict[str, Any]]) -> int | None:
    """The smallest duplicate count with a member in the high band: an attack's reach."""
    reached = [t["times"] for t in tiers if t["ums"]["high"] > 0]
    return min(reached) if reached else None


SWEEP_RECORDS = "sweeps/runs"


def record_path(record: dict[str, Any], kind: str = "runs", root: Path | None = None) -> Path:
    """Where a record lives under ``root`` (default reports/): ``runs`` feed the leaderboard,
    ``sweeps/runs`` only their sweep table.

    Sweep records stay apart because the sweep's winning λ becomes the card default, and its
    tuning seed must not be averaged into the leaderboard's grid seeds.
    """
    tag = params_key(record["params"])
    return (
        (root or reports_dir())
        / kind
        / record["attack"]
        / record["model"]
        / f"seed{record['seed']}-n{record['budget']}-{tag}.json"
    )


def summary(record: dict[str, Any], path: Path) -> str:
    m = record["metrics"]
    rows = [
        [
            band,
            f"{100 * m['ams'][band]:.2f}",
            f"{100 * m['ums'][band]:.2f}",
            f"{100 * m['nonmember']['ams'][band]:.2f}",
            f"{100 * m['nonmember']['ums'][band]:.2f}",
            f"{100 * m['hit_rate'][band]:.2f}",
            f"{100 * m['nonmember']['hit_rate'][band]:.2f}",
        ]
        for band in m["ams"]
    ]
    head = (
        f"{record['attack']} on {record['model']} (scale {record['scale']}, seed "
        f"{record['seed']}, N_G={record['budget']})\n"
    )
    table = tabulate(
        rows,
        headers=[
            "band",
            "AMS %",
            "UMS %",
            "chance AMS %",
            "chance UMS %",
            "members hit %",
            "non-members hit %",
        ],
        tablefmt="github",
    )
    extracted = ", ".join(f"δ={d}: {n}" for d, n in m["extracted"].items())
    lines = [
        head + table,
        f"extracted members: {extracted}; calibrated: "
        f"{m['calibrated_extracted']}; Gu d1/d2<1/3: {100 * m['gu_fraction']:.1f}% of "
        f"outputs, {m['gu_unique']} members",
    ]
    if record.get("candidates"):
        c = record["candidates"]
        lines.append(
            f"candidates: {c['n']} ranked; precision/extracted by δ: "
            + ", ".join(f"{d}: {c['precision'][d]:.2f}/{c['extracted'][d]}" for d in c["precision"])
        )
    if record.get("canaries"):
        k = record["canaries"]
        tiers = "; ".join(
            f"×{t['times']}: {round(t['hit_rate']['high'] * t['n'])}/{t['n']}" for t in k["tiers"]
        )
        lines.append(
            f"duplicated members in the high band by tier: {tiers} "
            f"(lowest tier reached: {k['lowest_tier_reached'] or 'none'})"
        )
    if "steering_rate" in record.get("info", {}):
        i = record["info"]
        acc = ", ".join(f"{t}: {a:.2f}" for t, a in i["heldout_accuracy"].items())
        lines.append(
            f"SIDE diagnostics: steering {100 * i['steering_rate']:.1f}% (chance "
            f"{100 * i['steering_chance']:.1f}%); classifier held-out accuracy by t: {acc}"
        )
    cost = record["cost"]
    lines.append(
        f"cost: {cost['unet_evaluations']:,} UNet evals, "
        f"{cost['classifier_evaluations']:,} classifier evals; "
        f"{record['wall_seconds']} s wall; record: {path}"
    )
    return "\n".join(lines)


def _cell(
    args: argparse.Namespace,
    overrides: dict[str, Any],
    write: bool = True,
    results: Path | None = None,
) -> dict[str, Any]:
    return run_cell(
        args.attack,
        args.scale,
        profile=args.profile,
        seed=args.seed,
        budget=args.budget,
        overrides=overrides,
        model=args.model,
        root=args.data_root,
        write=write,
        results=results,
    )


def cmd_run(args: argparse.Namespace) -> int:
    results = results_root(args)
    overrides = parse_sets(attack_card(args.attack), args.profile, args.set)
    if args.lam is not None:
        overrides["guidance_scale"] = args.lam
    record = _cell(args, overrides, results=results)
    print(json.dumps(record) if args.json else summary(record, record_path(record, root=results)))
    return 0


SELECTION_RULE = (
    "the highest UMS in the strictest band; ties go to the next band, then to the smaller value "
    "(or the value listed first)"
)
DEFAULT_LAMBDAS = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]


def select_value(rows: list[dict[str, Any]]) -> Any:
    """The sweep's winner under a rule fixed before any sweep ran (see SELECTION_RULE).

    Numbers tie to the smaller value; other values (a feature space) to the one listed first.
    """
    numeric = all(isinstance(r["value"], int | float) for r in rows)
    order = sorted(rows, key=lambda r: r["value"]) if numeric else rows
    rank = {id(r): i for i, r in enumerate(order)}
    return max(rows, key=lambda r: (*(r[f"ums_{b}"] for b in BAND_NAMES), -rank[id(r)]))["value"]


def sweep_values(
    acard: AttackCard, profile: str, param: str, values: list[str] | None
) -> list[Any]:
    """The swept values, in the type of the card default they replace (so an integer stays one)."""
    if values is None and param == "guidance_scale":
        values = [str(v) for v in DEFAULT_LAMBDAS]
    if not values:
        raise BenchError(f"give at least one value of {param} to sweep (--values a,b,…)")
    return list(dict.fromkeys(typed_value(acard, profile, param, v) for v in values))


def sweep_row(rec: dict[str, Any], param: str, path: Path) -> dict[str, Any]:
    """One line of a sweep table: the value, UMS and AMS by band, the canaries' UMS, the record."""
    m = rec["metrics"]
    return {
        "value": rec["params"][param],
        **{f"ums_{b}": m["ums"][b] for b in BAND_NAMES},
        **{f"ams_{b}": m["ams"][b] for b in BAND_NAMES},
        **({"canaries_ums_high": rec["canaries"]["ums"]["high"]} if rec.get("canaries") else {}),
        "record": str(path),
    }


def sweep_table_path(
    rec: dict[str, Any], param: str, root: Path, base: dict[str, Any] | None = None
) -> Path:
    """Named by what was swept; a sweep on top of ``--set`` overrides adds their hash."""
    tag = f"-set{params_key(base)}" if base else ""
    name = f"{rec['attack']}-{rec['model']}-{param}{tag}-seed{rec['seed']}-n{rec['budget']}.md"
    return root / "sweeps" / name


def write_sweep_table(
    rec: dict[str, Any],
    param: str,
    rows: list[dict[str, Any]],
    root: Path,
    base: dict[str, Any] | None = None,
) -> Path:
    """<root>/sweeps/<attack>-<model>-<param>[-set<hash>]-seed<s>-n<N_G>.md: rows and pick."""
    out = sweep_table_path(rec, param, root, base)
    fixed = f" with {', '.join(f'{k} = {v}' for k, v in base.items())}" if base else ""
    write_text_atomic(
        out,
        f"# Sweep of {param}: {rec['attack']} on {rec['model']}{fixed}, seed {rec['seed']}, "
        f"N_G={rec['budget']}\n\n"
        + tabulate(rows, headers="keys", tablefmt="github")
        + f"\n\n{selection_line(rows, param)}\n",
    )
    return out


def selection_line(rows: list[dict[str, Any]], param: str) -> str:
    """The pick, or a plain statement that UMS did not tell the values apart (e.g. a parameter
    that only changes a filter's candidates, which UMS over all N_G outputs does not see)."""
    scores = {tuple(r[f"ums_{b}"] for b in BAND_NAMES) for r in rows}
    if len(rows) > 1 and len(scores) == 1:
        return f"No {param} selected: every value scored the same UMS in every band."
    return f"Selected {param} = {select_value(rows)} ({SELECTION_RULE})."


def cmd_sweep(args: argparse.Namespace) -> int:
    """One record per value of one card parameter (λ by default), and a table under sweeps/."""
    root = results_root(args)
    acard = attack_card(args.attack)
    base = parse_sets(acard, args.profile, args.set)
    if args.param in base:
        raise BenchError(f"--set fixes {args.param}, the parameter being swept")
    values = sweep_values(acard, args.profile, args.param, args.values)
    rows = []
    for value in values:
        rec = _cell(args, {**base, args.param: value}, write=False)
        path = record_path(rec, SWEEP_RECORDS, root=root)
        write_record(path, rec)
        rows.append(sweep_row(rec, args.param, path.relative_to(root)))
        m = rec["metrics"]
        print(
            f"{args.param}={value}: UMS "
            + ", ".join(f"{b} {100 * v:.2f}%" for b, v in m["ums"].items()),
            flush=True,
        )
    out = write_sweep_table(rec, args.param, rows, root, base)
    print(f"{selection_line(rows, args.param)} Wrote {out}")
    return 0


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
    for name, func, text in (
        ("run", cmd_run, "run one attack against one zoo model and score it"),
        ("sweep", cmd_sweep, "sweep one attack parameter (SIDE's λ by default) on one model"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--attack", required=True)
        p.add_argument("--scale", required=True)
        p.add_argument("--profile", default="cpu")
        p.add_argument("--seed", type=seed_int, default=0)
        p.add_argument("--budget", type=positive_int, default=None, help="N_G (card default)")
        p.add_argument("--model", default=None, help="a zoo model name (e.g. a canary variant)")
        p.add_argument("--data-root", default=None)
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override an attack card parameter (repeatable); typed by the card's default",
        )
        add_results_arguments(p)
        if name == "run":
            p.add_argument(
                "--lambda",
                dest="lam",
                type=finite_float,
                default=None,
                help="guidance scale for side/side-ti",
            )
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("--param", default="guidance_scale", help="card parameter to sweep")
            p.add_argument(
                "--values",
                type=lambda text: [v.strip() for v in text.split(",")],
                default=None,
                help=f"values to try (λ default: {','.join(f'{v:g}' for v in DEFAULT_LAMBDAS)})",
            )
        p.set_defaults(func=func)
