"""The cell runner: one benchmark cell, end to end, with its run record.

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

from bench import preflight, validate
from bench.attacks.base import SHARD, Audit, ModelView, grants_captions, load_attack
from bench.candidates import score_candidates
from bench.cards import (
    AttackCard,
    DatasetCard,
    attack_card,
    dataset_card,
)
from bench.cliargs import positive_int, seed_int
from bench.data.subset import members as member_subset
from bench.data.subset import nonmembers
from bench.errors import BenchError
from bench.imageio import to_unit
from bench.locks import lock_cell, release
from bench.metrics import score
from bench.metrics.tiers import canary_metrics
from bench.neighbours import NeighbourIndex
from bench.parallel import current_ranks
from bench.paths import bench_home, data_root, reports_dir
from bench.provenance import git_commit, machine, versions
from bench.records import SCHEMA, write_record
from bench.results import add_arguments as add_results_arguments
from bench.results import user_results
from bench.store import RunStore
from bench.targets import DEFAULT_STEPS, Target, external_target, model_config, zoo_target


def resolve_model(
    attack: AttackCard,
    scale: str | None,
    profile: str,
    model: str | None,
    model_path: str | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    members: str | None = None,
) -> Target:
    """The cell's model: a user's diffusers folder when ``model_path`` is given, else the zoo's."""
    if model_path is None:
        if sampler is not None or steps is not None or members is not None:
            raise BenchError(
                "--sampler, --steps and --members apply to --model-path; a zoo card sets its own"
            )
        return zoo_target(attack, scale, profile, model)
    if model is not None:
        raise BenchError("give --model or --model-path, not both")
    return external_target(
        attack, model_path, scale, profile, sampler=sampler, steps=steps, members=members
    )


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
    scale: str | None,
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
    model_path: str | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    members: str | None = None,
    fresh: bool = False,
) -> dict[str, Any]:
    """Run one attack on one zoo model (or a user's diffusers folder, ``model_path``), score it,
    and write its record under ``results`` (the user's results folder by default; reports/ only
    when publishing); returns the record.

    ``fresh`` discards outputs the cell already has instead of resuming from them: a patched
    attack (CI's mutations) has the real attack's parameters, hence its output folder.
    """
    seed = validate.seed(seed)
    if write and results is None:
        results = user_results()
    acard = attack_card(attack_name)
    params = validate.attack_params(acard, profile, overrides)
    attack = load_attack(acard, params)
    with_captions = grants_captions(acard, attack)
    target = resolve_model(acard, scale, profile, model, model_path, sampler, steps, members)
    mcard, digest = target.card, target.digest
    dcard = dataset_card(mcard.dataset)
    budget = validate.budget(default_budget(dcard, profile) if budget is None else budget)
    # Scoring inputs are checked before the attack runs, so a bad card fails in seconds, not hours.
    bands = dcard.bands(mcard.resolution)
    deltas = dcard.metrics.get("deltas")
    if not deltas:
        raise BenchError(f"dataset card {dcard.path} has no [metrics] deltas")
    # Outputs and preparation are keyed by the weights and card versions they came from, so a
    # retrained model or a changed attack never resumes from stale shards or classifiers.
    model_key = Path(mcard.name) / digest[:12]
    run_rel = (
        model_key / f"{acard.name}-v{acard.version}-{params_key(params)}" / f"seed{seed}-n{budget}"
    )
    run_dir = bench_home() / "runs" / run_rel
    prep_root = bench_home() / "runs" / model_key / "prep" / f"seed{seed}"
    # Every folder the cell writes, and the disk its outputs need, before any slow work.
    ranks = current_ranks()
    missing = budget if fresh else preflight.missing_outputs(run_dir, budget, SHARD)
    disk = preflight.output_bytes(missing, mcard.resolution, SHARD)
    if ranks.is_main:
        folders = {run_dir: "the cell's output folder", prep_root: "the preparation folder"}
        if write:
            where = {"attack": acard.name, "model": mcard.name, "seed": seed, "budget": budget}
            folders[record_path({**where, "params": params}, root=results).parent] = (
                "the results folder"
            )
        preflight.check_folders(folders)
        preflight.check_disk(run_dir, disk)
    data = data_root(root)
    member_set = member_subset(mcard, data, target.listed)
    nonmember_set = nonmembers(mcard, data)
    store = RunStore(run_dir, prep_root=prep_root, resolution=mcard.resolution)
    # In a data-parallel job (bench.parallel) the main process holds the lock, scores and writes;
    # the others only make their shards and return its record.
    lock = lock_cell(run_dir) if ranks.is_main else None
    if ranks.is_main:
        store.sweep_temporaries()  # under the lock: a killed run's half shards, never a live one's
    if fresh:
        if ranks.is_main:
            store.clear_outputs()
        ranks.wait()  # no process may find a shard that is about to be removed
    denoiser = target.load_denoiser()
    if ranks.is_main:
        preflight.announce_long_run(
            denoiser,
            mcard.resolution,
            target.sampling_steps,
            missing,
            disk,
            run_dir,
            member_set.captions if mcard.conditioning == "caption" else None,
        )
    view = ModelView(
        denoiser=denoiser,
        make_sampler=target.make_sampler,
        resolution=mcard.resolution,
        sampling_steps=target.sampling_steps,
        conditioning=mcard.conditioning,
        store=store,
        captions=tuple(member_set.captions) if with_captions else None,
    )
    started = time.time()
    result = attack.run(view, budget, seed)
    if not ranks.is_main:
        return ranks.share(None)
    outputs = store.images()
    if len(outputs) != budget:
        raise BenchError(f"attack {acard.name} produced {len(outputs)} outputs, budget {budget}")
    metrics = score(
        outputs, member_set.images, nonmember_set.images, bands, deltas, progress=progress
    )
    if result.audit is not None:
        result.info["scored"] = audit_against(result.audit, member_set.images, bands)
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
        "canaries": canary_metrics(outputs, member_set, bands, deltas),
        "info": result.info,
        "checkpoint_sha256": digest,
        "external": target.external,
        **({"model_path": str(mcard.path)} if target.external else {}),
        **(
            {"member_manifest": {"path": target.listed_from, "n": len(member_set.files)}}
            if target.listed
            else {}
        ),
        "model_config": model_config(denoiser, target.make_sampler()),
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
    return ranks.share(record)


SWEEP_RECORDS = "sweeps/runs"


def audit_against(audit: Audit, members: np.ndarray, bands: dict[str, Any]) -> dict[str, Any]:
    """The attack's reading of its audited images, each matched to its nearest member here.

    A copy is a high-band match, the band every leaderboard count of "extracted" starts from.
    """
    dist, idx = NeighbourIndex(to_unit(members)).knn(to_unit(audit.images), 1)
    copy = dist[:, 0] < float(bands["high"]["hi"])
    return audit.summarise(idx[:, 0], copy)


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


def cell_from_args(
    args: argparse.Namespace,
    overrides: dict[str, Any],
    write: bool = True,
    results: Path | None = None,
) -> dict[str, Any]:
    """The cell named by a command's arguments (see ``add_cell_arguments``)."""
    if args.budget is not None:
        validate.budget_allowed(args.budget, args.force)
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
        model_path=args.model_path,
        sampler=args.sampler,
        steps=args.steps,
        members=args.members,
    )


def add_cell_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that name one cell and where its record goes (`run`, `sweep`)."""
    p.add_argument("--attack", required=True)
    trained_on = p.add_mutually_exclusive_group(required=True)
    trained_on.add_argument("--scale", help="the member set: a dataset scale (64, 1k, …)")
    trained_on.add_argument(
        "--members",
        metavar="MANIFEST",
        help="with --model-path: the member set as a file of image names, one per line",
    )
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        help=f"N_G (card default); at most {validate.BUDGET_LIMIT:,} unless --force",
    )
    add_force_argument(p)
    p.add_argument("--model", default=None, help="a zoo model name (e.g. a canary variant)")
    add_model_path_arguments(p)
    p.add_argument("--data-root", default=None)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override an attack card parameter (repeatable); typed by the card's default",
    )
    add_results_arguments(p)


def add_force_argument(p: argparse.ArgumentParser) -> None:
    """``--force``: run a budget above ``validate.BUDGET_LIMIT`` (`run`, `sweep`, `curve`,
    `floors`); its time and disk estimate is printed before it starts."""
    p.add_argument(
        "--force",
        action="store_true",
        help=f"allow an output budget above {validate.BUDGET_LIMIT:,} (the estimate prints first)",
    )


def add_model_path_arguments(p: argparse.ArgumentParser) -> None:
    """Attack a user's diffusers folder instead of a zoo model (`run`, `sweep`, `curve`)."""
    p.add_argument(
        "--model-path",
        default=None,
        metavar="DIR",
        help="a diffusers save_pretrained folder (UNet + scheduler), trained on --scale's members",
    )
    p.add_argument(
        "--sampler",
        default=None,
        help="with --model-path: ddim, ddpm or a diffusers scheduler class (default: the folder's)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"with --model-path: sampling steps (default {DEFAULT_STEPS})",
    )
