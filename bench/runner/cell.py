"""The cell runner: one benchmark cell, end to end, with its run record.

A cell is attack × zoo model × seed at a fixed output budget N_G. The cell runner alone holds the
members and non-members; the attack gets a ``ModelView``. The record names everything needed to
reproduce the numbers: cards and their versions, parameters, checkpoint digest, seed, commit,
library versions and machine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.attacks.base import SHARD, Audit, ModelView, grants_captions, load_attack
from bench.attacks.store import RunStore
from bench.cards import AttackCard, DatasetCard, attack_card, dataset_card, validate
from bench.data.subset import members as member_subset
from bench.data.subset import nonmembers
from bench.errors import BenchError
from bench.metrics import score
from bench.metrics.candidates import score_candidates
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.tiers import canary_metrics
from bench.records import (
    RunRecord,
    make_record,
    params_key,
    record_path,
    user_results,
    write_record,
)
from bench.runner import preflight
from bench.runner.spec import CellSpec, FolderModel, RunOptions
from bench.utils.imageio import to_unit
from bench.utils.locks import lock_cell, release
from bench.utils.parallel import current_ranks
from bench.utils.paths import bench_home, data_root
from bench.utils.runtime import compile_requested, warn_if_loaded
from bench.zoo.build import unet_batch
from bench.zoo.pool import ModelPool, pool_root, sampling_pool
from bench.zoo.targets import Target, external_target, model_config, zoo_target


def resolve_model(attack: AttackCard, spec: CellSpec) -> Target:
    """The cell's model: a user's diffusers folder, or a zoo card."""
    model = spec.model
    if isinstance(model, FolderModel):
        return external_target(
            attack,
            model.path,
            model.scale,
            spec.profile,
            sampler=model.sampler,
            steps=model.steps,
            members=model.members,
        )
    return zoo_target(attack, spec.profile, model.name)


def default_budget(dcard: DatasetCard, profile: str) -> int:
    """The dataset card's N_G for a profile: the budget every attack is compared at."""
    try:
        return int(dcard.metrics["budget"][profile])
    except KeyError:
        raise BenchError(
            f"dataset card {dcard.path} sets no [metrics.budget] for profile "
            f"{profile!r}; pass --budget"
        ) from None


def other_budgets(
    folder: Path, seed: int, budget: int, variant: str
) -> tuple[tuple[int, Path], ...]:
    """The cell's output folders under ``folder`` (one attack version and parameters on one
    model's weights) at budgets other than ``budget``, largest first: the same seed and rounding
    ``variant``, so shard ``i`` of each is the same draw."""
    pattern = re.compile(rf"seed{seed}-n([1-9][0-9]*){re.escape(variant)}")
    found = []
    for run in folder.glob(f"seed{seed}-n*"):
        match = pattern.fullmatch(run.name)
        if match and int(match.group(1)) != budget and run.is_dir():
            found.append((int(match.group(1)), run))
    return tuple(sorted(found, reverse=True))


def run_cell(spec: CellSpec, options: RunOptions | None = None) -> RunRecord:
    """Run one attack on one model, score it, and write its record; returns the record.

    Args:
        spec: the cell (attack, zoo model or diffusers folder, profile, seed, budget, overrides,
            data root); every number in it is checked before any work starts.
        options: whether and where the record is written (the user's results folder by default;
            reports/ only when publishing), progress bars, and ``fresh`` (discard the outputs the
            cell already has instead of resuming from them).

    Returns:
        The run record (``bench.records.RunRecord``); in a data-parallel job every process
        returns the main process's record.
    """
    options = options or RunOptions()
    compiled = compile_requested() if options.compile is None else options.compile
    seed = validate.seed(spec.seed)
    profile = spec.profile
    results = options.results
    if options.write and results is None:
        results = user_results()
    acard = attack_card(spec.attack)
    params = validate.attack_params(acard, profile, dict(spec.overrides))
    attack = load_attack(acard, params)
    with_captions = grants_captions(acard, attack)
    target = resolve_model(acard, spec)
    mcard, digest = target.card, target.digest
    slices = unet_batch(mcard)
    dcard = dataset_card(mcard.dataset)
    budget = spec.budget
    budget = validate.budget(default_budget(dcard, profile) if budget is None else budget)
    # Scoring inputs are checked before the attack runs, so a bad card fails in seconds, not hours.
    bands = dcard.bands(mcard.resolution)
    deltas = dcard.metrics.get("deltas")
    if not deltas:
        raise BenchError(f"dataset card {dcard.path} has no [metrics] deltas")
    # Outputs and preparation are keyed by the weights and card versions they came from, so a
    # retrained model or a changed attack never resumes from stale shards or classifiers.
    # Compiled outputs round differently from eager ones, and so do outputs denoised in slices
    # (a card's unet_batch), so neither ever resumes the other's.
    model_key = Path(mcard.name) / digest[:12]
    variant = ("-compiled" if compiled else "") + (f"-ub{slices}" if slices else "")
    run_rel = (
        model_key
        / f"{acard.name}-v{acard.version}-{params_key(params)}"
        / f"seed{seed}-n{budget}{variant}"
    )
    run_dir = bench_home() / "runs" / run_rel
    prep_root = bench_home() / "runs" / model_key / "prep" / f"seed{seed}{variant}"
    # Every folder the cell writes, and the disk its outputs need, before any slow work.
    ranks = current_ranks()
    # A budget curve after a grid cell (or a larger rerun) takes the shards the cell already made.
    donors = (
        other_budgets(run_dir.parent, seed, budget, variant)
        if attack.prefix_valid and not options.fresh
        else ()
    )
    missing = budget if options.fresh else preflight.missing_outputs(run_dir, budget, SHARD, donors)
    disk = preflight.output_bytes(missing, mcard.resolution, SHARD)
    pool_disk = 0  # the unguided batches the sample pool lacks take as much again
    draws = attack.draws(budget, seed)
    if draws is not None:
        pool = sampling_pool(
            pool_root(),
            digest,
            target.make_sampler(),
            target.sampling_steps,
            mcard.resolution,
            compiled,
            slices,
        )
        pool_disk = pool.missing_bytes(draws.unguided(seed))
    if ranks.is_main:
        folders = {run_dir: "the cell's output folder", prep_root: "the preparation folder"}
        if options.write:
            where = {"attack": acard.name, "model": mcard.name, "seed": seed, "budget": budget}
            folders[record_path({**where, "params": params}, root=results).parent] = (
                "the results folder"
            )
        preflight.check_folders(folders)
        preflight.check_disk(run_dir, disk + pool_disk)
    data = data_root(spec.data_root)
    member_set = member_subset(mcard, data, target.listed)
    nonmember_set = nonmembers(mcard, data)
    store = RunStore(run_dir, prep_root=prep_root, resolution=mcard.resolution, donors=donors)
    # In a data-parallel job (bench.utils.parallel) the main process holds the lock, scores and
    # writes; the others only make their shards and return its record.
    lock = lock_cell(run_dir) if ranks.is_main else None
    if ranks.is_main:
        store.sweep_temporaries()  # under the lock: a killed run's half shards, never a live one's
    if options.fresh:
        if ranks.is_main:
            store.clear_outputs()
        ranks.wait()  # no process may find a shard that is about to be removed
    denoiser = target.load_denoiser()
    if compiled:
        denoiser = denoiser.compile()
    store.pool = ModelPool(digest, denoiser)
    if ranks.is_main:
        warn_if_loaded()
        preflight.announce_long_run(
            denoiser,
            mcard.resolution,
            target.sampling_steps,
            missing,
            disk,
            run_dir,
            member_set.captions if mcard.conditioning == "caption" else None,
            pool_disk,
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
    store.start_clock()
    result = attack.run(view, budget, seed)
    if not ranks.is_main:
        return ranks.share(None)
    outputs = store.images()
    if len(outputs) != budget:
        raise BenchError(f"attack {acard.name} produced {len(outputs)} outputs, budget {budget}")
    metrics = score(
        outputs, member_set.images, nonmember_set.images, bands, deltas, progress=options.progress
    )
    if result.audit is not None:
        result.info["scored"] = audit_against(result.audit, member_set.images, bands)
    record = make_record(
        acard=acard,
        params=params,
        target=target,
        dcard=dcard,
        profile=profile,
        seed=seed,
        budget=budget,
        result=result,
        metrics=metrics,
        candidates=(
            score_candidates(result.candidates, member_set.images, deltas)
            if result.filtering
            else None
        ),
        canaries=canary_metrics(outputs, member_set, bands, deltas),
        member_set=member_set,
        nonmember_set=nonmember_set,
        model_config=model_config(denoiser, target.make_sampler()),
        outputs=str(run_dir.relative_to(bench_home())),
        wall_seconds=round(store.stop_clock(), 1),
        pool=store.pool_use(result.unet_evaluations),
        runtime={
            "compiled": compiled,
            "threads": torch.get_num_threads(),
            "unet_batch": denoiser.unet_batch,
        },
    )
    if options.write:
        write_record(record_path(record, root=results), record)
    release(lock)
    return ranks.share(record)


def audit_against(audit: Audit, members: np.ndarray, bands: dict[str, Any]) -> dict[str, Any]:
    """The attack's reading of its audited images, each matched to its nearest member here.

    A copy is a high-band match, the band every leaderboard count of "extracted" starts from.
    """
    dist, idx = NeighbourIndex(to_unit(members)).knn(to_unit(audit.images), 1)
    copy = dist[:, 0] < float(bands["high"]["hi"])
    return audit.summarise(idx[:, 0], copy)
