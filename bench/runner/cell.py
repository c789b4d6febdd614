"""The cell runner: one benchmark cell, end to end, with its run record.

A cell is attack × zoo model × seed at a fixed output budget N_G. The cell runner alone holds the
members and non-members; the attack gets a ``ModelView``. The record names everything needed to
reproduce the numbers: cards and their versions, parameters, checkpoint digest, seed, commit,
library versions and machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.attacks import mutations
from bench.attacks.base import (
    SHARD,
    Attack,
    AttackResult,
    Audit,
    ModelView,
    checked_class,
    grants_captions,
    load_attack,
)
from bench.attacks.store import RunStore
from bench.attacks.work import Work
from bench.cards import AttackCard, DatasetCard, attack_card, dataset_card, validate
from bench.data.subset import Subset, nonmembers
from bench.data.subset import members as member_subset
from bench.errors import BenchError
from bench.metrics import score
from bench.metrics.candidates import score_candidates
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.sscd_bands import record_similarity
from bench.metrics.tiers import canary_metrics
from bench.records import (
    CellPlan,
    Outcome,
    RunKey,
    RunRecord,
    make_record,
    params_key,
    record_path,
    user_results,
    write_record,
)
from bench.runner import estimate, preflight, prices
from bench.runner.spec import CellSpec, FolderModel, RunOptions
from bench.utils.imageio import to_unit
from bench.utils.locks import lock_cell, release
from bench.utils.parallel import Ranks, current_ranks
from bench.utils.paths import bench_home, data_root
from bench.utils.runtime import compile_requested, warn_if_loaded
from bench.zoo.build import unet_batch
from bench.zoo.denoiser import Denoiser
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


def run_cell(spec: CellSpec, options: RunOptions | None = None) -> RunRecord:
    """Run one attack on one model, score it, and write its record; returns the record.

    Three steps: ``plan_cell`` decides and checks everything without loading a model or writing
    a file, ``open_cell`` makes the folders, reads the members and loads the model, and
    ``score_cell`` scores the outputs into the record.

    Args:
        spec: the cell (attack, zoo model or diffusers folder, profile, seed, budget, overrides,
            data root); every number in it is checked before any work starts.
        options: whether and where the record is written (the user's results folder by default;
            reports/ only when publishing), progress bars, ``fresh`` (discard the outputs the
            cell already has instead of resuming from them) and ``mutation``.

    Returns:
        The run record (``bench.records.RunRecord``); in a data-parallel job every process
        returns the main process's record.
    """
    options = options or RunOptions()
    results = options.results
    if options.write and results is None:
        results = user_results()
    plan = plan_cell(spec, options)
    cell = open_cell(plan, options, results)
    cell.store.start_clock()
    result = plan.attack.run(cell.view, plan.budget, plan.seed)
    if not cell.ranks.is_main:
        return cell.ranks.share(None)
    record = score_cell(plan, cell, result, options.progress)
    if options.write:
        write_record(record_path(record, root=results), record)
    release(cell.lock)
    return cell.ranks.share(record)


def plan_cell(spec: CellSpec, options: RunOptions) -> CellPlan:
    """The cell's plan: cards, parameters, attack, target, budget, scoring inputs and run folder,
    each checked, so a bad card fails in seconds, not after hours of sampling. Nothing is
    written and no model is loaded."""
    compiled = compile_requested() if options.compile is None else options.compile
    seed = validate.seed(spec.seed)
    acard = attack_card(spec.attack)
    params, attack = _attack(acard, spec, options.mutation)
    with_captions = grants_captions(acard, attack)
    target = resolve_model(acard, spec)
    mcard = target.card
    attack.check_model(mcard.resolution)
    dcard = dataset_card(mcard.dataset)
    budget = spec.budget
    budget = validate.budget(default_budget(dcard, spec.profile) if budget is None else budget)
    needs = attack.peak_memory(budget, mcard.resolution)
    preflight.check_memory(acard.name, params, needs, budget)
    bands = dcard.bands(mcard.resolution)
    deltas = dcard.metrics.get("deltas")
    if not deltas:
        raise BenchError(f"dataset card {dcard.path} has no [metrics] deltas")
    key = RunKey(
        model=mcard.name,
        weights=target.digest[:12],
        attack=acard.name,
        version=acard.version,
        params=params_key(acard.recorded(params)),
        seed=seed,
        budget=budget,
        variant=RunKey.variant_of(compiled, unet_batch(mcard)),
    )
    return CellPlan(
        acard=acard,
        dcard=dcard,
        params=acard.recorded(params),
        attack=attack,
        with_captions=with_captions,
        target=target,
        profile=spec.profile,
        seed=seed,
        budget=budget,
        bands=bands,
        deltas=deltas,
        key=key,
        compiled=compiled,
        draws=attack.draws(budget, seed),
        data_root=spec.data_root,
    )


def _attack(
    acard: AttackCard, spec: CellSpec, mutation_name: str | None
) -> tuple[dict[str, Any], Attack]:
    """The full parameter set and the attack built from it; with ``mutation_name``, one of its
    mutations (parameter values on top of the overrides, code applied to the instance)."""
    mutation = None
    if mutation_name is not None:
        mutation = mutations.mutation(checked_class(acard), acard, mutation_name)
    changed = {**spec.overrides, **(mutation.params if mutation else {})}
    params = validate.attack_params(acard, spec.profile, changed)
    attack = load_attack(acard, params)
    return params, mutation.apply(attack) if mutation is not None else attack


@dataclass(frozen=True)
class OpenCell:
    """A cell ready to run: its store (locked by the main process), member sets, view and the
    work it has left (``bench.runner.estimate``)."""

    store: RunStore
    lock: Path | None  # the lock file, held by the main process only
    ranks: Ranks
    view: ModelView
    member_set: Subset
    nonmember_set: Subset
    work: Work  # what the run still evaluates, phase by phase, counted before it started


def open_cell(plan: CellPlan, options: RunOptions, results: Path | None) -> OpenCell:
    """Check the folders and disk, read the member sets, lock the store and load the model.

    In a data-parallel job (``bench.utils.parallel``) the main process holds the lock, scores
    and writes; the others only make their shards and return its record.
    """
    runs = bench_home() / "runs"
    ranks = current_ranks()
    # A budget curve after a grid cell (or a larger rerun) takes the shards the cell already made.
    donors = () if options.fresh or not plan.attack.prefix_valid else plan.key.other_budgets(runs)
    missing = _preflight(plan, options, results, donors)
    data = data_root(plan.data_root)
    member_set = member_subset(plan.mcard, data, plan.target.listed)
    nonmember_set = nonmembers(plan.mcard, data)
    store = RunStore(
        runs / plan.key.relative,
        prep_root=runs / plan.key.prep,
        resolution=plan.mcard.resolution,
        donors=donors,
    )
    lock = lock_cell(store.root) if ranks.is_main else None
    if ranks.is_main:
        store.sweep_temporaries()  # under the lock: a killed run's half shards, never a live one's
    if options.fresh:
        if ranks.is_main:
            store.clear_outputs()
        ranks.wait()  # no process may find a shard that is about to be removed
    denoiser = plan.target.load_denoiser()
    if plan.compiled:
        denoiser = denoiser.compile()
    store.pool = ModelPool(plan.target.digest, denoiser)
    work = _scored(plan, missing.work, member_set, nonmember_set)
    if ranks.is_main:
        warn_if_loaded()
        _announce(plan, work, missing, denoiser, member_set, store.root)
    view = ModelView(
        denoiser=denoiser,
        make_sampler=plan.target.make_sampler,
        resolution=plan.mcard.resolution,
        sampling_steps=plan.target.sampling_steps,
        conditioning=plan.mcard.conditioning,
        store=store,
        captions=tuple(member_set.captions) if plan.with_captions else None,
    )
    return OpenCell(store, lock, ranks, view, member_set, nonmember_set, work)


def _scored(plan: CellPlan, work: Work, member_set: Subset, nonmember_set: Subset) -> Work:
    """The attack's work left, and the runner's scoring of its outputs."""
    references = (
        (len(member_set.images), member_set.cache_key),
        (len(nonmember_set.images), nonmember_set.cache_key),
    )
    scoring = estimate.scoring(
        plan.budget, work.audited, references, plan.dcard.metrics, plan.mcard.resolution
    )
    return work.with_phase(scoring)


def _announce(
    plan: CellPlan,
    work: Work,
    missing: Missing,
    denoiser: Denoiser,
    member_set: Subset,
    run_dir: Path,
) -> None:
    """The estimate of a long run, priced on the loaded model (``preflight.announce_long_run``)."""
    captions = member_set.captions if plan.mcard.conditioning == "caption" else None

    def price(counted: Work) -> prices.Prices:
        return prices.measure(
            counted,
            denoiser,
            plan.target.make_sampler,
            plan.mcard.resolution,
            len(member_set.images),
            captions,
        )

    preflight.announce_long_run(work, price, missing.disk, run_dir, missing.pool_disk)


@dataclass(frozen=True)
class Missing:
    """What the cell still has to make: outputs, their disk, the sample pool's disk, and the
    attack's work left, phase by phase (scoring is added once the member sets are read)."""

    outputs: int
    disk: int
    pool_disk: int
    work: Work


def _preflight(
    plan: CellPlan, options: RunOptions, results: Path | None, donors: tuple[tuple[int, Path], ...]
) -> Missing:
    """Every folder the cell writes, the disk its outputs need and the work it has left, before
    any slow work."""
    runs = bench_home() / "runs"
    run_dir = runs / plan.key.relative
    budget = plan.budget
    missing = budget if options.fresh else preflight.missing_outputs(run_dir, budget, SHARD, donors)
    disk = preflight.output_bytes(missing, plan.mcard.resolution, SHARD)
    steps = plan.target.sampling_steps
    pool = sampling_pool(
        pool_root(),
        plan.target.digest,
        plan.target.make_sampler(),
        steps,
        plan.mcard.resolution,
        plan.compiled,
        unet_batch(plan.mcard),
    )
    # The unguided batches the sample pool lacks take as much disk again as the outputs.
    pool_disk = 0 if plan.draws is None else pool.missing_bytes(plan.draws.unguided(plan.seed))
    work = estimate.remaining(
        plan.attack.work(budget, plan.seed, steps), budget, missing, pool, runs / plan.key.prep
    )
    if current_ranks().is_main:
        folders = {
            run_dir: "the cell's output folder",
            runs / plan.key.prep: "the preparation folder",
        }
        if options.write:
            where = {"attack": plan.acard.name, "model": plan.mcard.name, "seed": plan.seed}
            record = {**where, "budget": budget, "params": plan.params}
            folders[record_path(record, root=results).parent] = "the results folder"
        preflight.check_folders(folders)
        preflight.check_disk(run_dir, disk + pool_disk)
    return Missing(missing, disk, pool_disk, work)


def score_cell(plan: CellPlan, cell: OpenCell, result: AttackResult, progress: bool) -> RunRecord:
    """Score the cell's outputs against its members and non-members into its record."""
    outputs = cell.store.images()
    if len(outputs) != plan.budget:
        raise BenchError(
            f"attack {plan.acard.name} produced {len(outputs)} outputs, budget {plan.budget}"
        )
    members = cell.member_set.images
    sscd, sscd_bands = record_similarity(plan.dcard.metrics, plan.mcard.resolution)
    metrics = score(
        outputs,
        members,
        cell.nonmember_set.images,
        plan.bands,
        plan.deltas,
        sscd=sscd,
        sscd_bands=sscd_bands,
        keys=(cell.member_set.cache_key, cell.nonmember_set.cache_key),
        progress=progress,
    )
    if result.audit is not None:
        result.info["scored"] = audit_against(result.audit, members, plan.bands)
    candidates = None
    if result.filtering:
        candidates = score_candidates(result.candidates, members, plan.deltas)
    denoiser = cell.view.denoiser
    outcome = Outcome(
        result=result,
        metrics=metrics,
        candidates=candidates,
        canaries=canary_metrics(outputs, cell.member_set, plan.bands, plan.deltas),
        member_set=cell.member_set,
        nonmember_set=cell.nonmember_set,
        model_config=model_config(denoiser, plan.target.make_sampler()),
        wall_seconds=round(cell.store.stop_clock(), 1),
        pool=cell.store.pool_use(result.unet_evaluations),
        runtime={
            "compiled": plan.compiled,
            "threads": torch.get_num_threads(),
            "unet_batch": denoiser.unet_batch,
        },
    )
    return make_record(plan, outcome)


def audit_against(audit: Audit, members: np.ndarray, bands: dict[str, Any]) -> dict[str, Any]:
    """The attack's reading of its audited images, each matched to its nearest member here.

    A copy is a high-band match, the band every leaderboard count of "extracted" starts from.
    """
    dist, idx = NeighbourIndex(to_unit(members)).knn(to_unit(audit.images), 1)
    copy = dist[:, 0] < float(bands["high"]["hi"])
    return audit.summarise(idx[:, 0], copy)
