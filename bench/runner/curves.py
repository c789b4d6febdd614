"""Behind `bench curve`: one attack's extraction against its budget, from one run per seed.

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

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.attacks.base import load_attack
from bench.attacks.store import RunStore
from bench.cards import attack_card, dataset_card, model_card, validate
from bench.data.subset import Subset, members, nonmembers
from bench.errors import BenchError
from bench.metrics import score
from bench.metrics.sscd import SimilarityModel
from bench.metrics.sscd_bands import record_similarity
from bench.metrics.tiers import canary_metrics
from bench.records import RunRecord, curve_path, user_results, write_record
from bench.runner.cell import default_budget, resolve_model, run_cell
from bench.runner.spec import CellSpec, FolderModel, RunOptions
from bench.utils.paths import data_root, home_path


def prefix_cost(cost: dict[str, int], n: int, n_max: int) -> dict[str, int]:
    """Preparation once, plus the per-output share of everything else for ``n`` outputs."""
    out = {}
    for kind in ("unet", "classifier"):
        prep = int(cost.get(f"prep_{kind}_evaluations", 0))
        per_output = (int(cost[f"{kind}_evaluations"]) - prep) / n_max
        out[f"{kind}_evaluations"] = prep + round(per_output * n)
        out[f"prep_{kind}_evaluations"] = prep
    return out


def run_curve(
    spec: CellSpec, budgets: list[int], seeds: list[int], options: RunOptions | None = None
) -> list[Path]:
    """One record per (budget, seed); prefixes of the largest run where the attack allows it.

    ``spec`` names the attack, the model (a zoo card, or a user's diffusers folder trained on a
    scale's members or on those its manifest lists), overrides and data root; its seed and budget
    are replaced by each of ``seeds`` and ``budgets``. Records go under ``options.results`` (the
    user's results folder unless given; reports/ to publish).
    """
    options = options or RunOptions()
    results = options.results or user_results()
    if not budgets:
        raise BenchError("give at least one budget")
    budgets = [validate.budget(b) for b in budgets]
    acard = attack_card(spec.attack)
    overrides = dict(spec.overrides)
    listed = None
    if isinstance(spec.model, FolderModel):
        target = resolve_model(acard, spec)
        mcard, listed = target.card, target.listed
    else:
        mcard = model_card(spec.model.name)
        spec = replace(spec, profile=mcard.profile)
    params = validate.attack_params(acard, mcard.profile, overrides)
    prefix_valid = load_attack(acard, params).prefix_valid
    data = data_root(spec.data_root)
    member_set, nonmember_set = members(mcard, data, listed), nonmembers(mcard, data)
    dcard = dataset_card(mcard.dataset)
    bands, deltas = dcard.bands(mcard.resolution), dcard.metrics["deltas"]
    similarity = record_similarity(dcard.metrics, mcard.resolution)
    grid_budget = default_budget(dcard, mcard.profile) if not overrides else None
    written = []
    for seed in seeds:
        runs = [max(budgets)] if prefix_valid else sorted(set(budgets))
        for n_run in runs:
            full = run_cell(
                replace(spec, seed=seed, budget=n_run),
                RunOptions(
                    write=n_run == grid_budget,
                    results=results,
                    progress=options.progress,
                    compile=options.compile,
                ),
            )
            outputs = RunStore(home_path(full["outputs"], "the run's outputs")).images()
            for n in sorted(set(budgets)) if prefix_valid else [n_run]:
                sets = (member_set, nonmember_set)
                record = _prefix_record(full, outputs[:n], n_run, sets, bands, deltas, similarity)
                path = curve_path(record, results)
                write_record(path, record)
                written.append(path)
    return written


def _prefix_record(
    full: RunRecord,
    part: np.ndarray,
    n_run: int,
    sets: tuple[Subset, Subset],
    bands: dict[str, Any],
    deltas: list[float],
    similarity: tuple[SimilarityModel | None, dict[str, Any] | None],
) -> RunRecord:
    """The record of the first ``len(part)`` outputs of the run ``full`` at budget ``n_run``,
    scored against the (members, non-members) ``sets`` in ℓ2 and, where ``similarity`` holds a
    model (``record_similarity``), in SSCD."""
    member_set, nonmember_set = sets
    sscd, sscd_bands = similarity
    metrics = score(
        part,
        member_set.images,
        nonmember_set.images,
        bands,
        deltas,
        sscd=sscd,
        sscd_bands=sscd_bands,
        keys=(member_set.cache_key, nonmember_set.cache_key),
    )
    return {
        **full,
        "budget": len(part),
        "prefix_of": n_run,
        "cost": prefix_cost(full["cost"], len(part), n_run),
        "metrics": metrics,
        # The clique filter ranks the whole output set; curves score outputs only.
        "candidates": None,
        "canaries": canary_metrics(part, member_set, bands, deltas),
    }
