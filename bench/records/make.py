"""The one place a run record is assembled, so every writer (a cell, a curve's prefixes) agrees.

A cell is planned before anything runs (``CellPlan``: the cards, the parameters, the target, the
run folder) and scored after (``Outcome``: the attack's result and the scores); ``make_record``
turns the two into the record ``records.types.RunRecord`` describes, naming everything that
produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.attacks.base import Attack, AttackResult, Draws
from bench.cards import AttackCard, DatasetCard, ModelCard
from bench.data.subset import Subset
from bench.records.io import SCHEMA
from bench.records.runkey import RunKey
from bench.records.types import Canaries, Candidates, Metrics, PoolUse, RunRecord, Runtime
from bench.utils.provenance import git_commit, machine, versions
from bench.zoo.targets import Target


@dataclass(frozen=True)
class CellPlan:
    """What one cell will run, decided and checked before any model is loaded or folder made.

    Args:
        acard, dcard: the attack and dataset cards.
        params: the parameter set the attack runs with (the card's, overrides applied), as the
            record holds it: without parameters at their neutral value (``Param.neutral``).
        attack: the attack, built from the full set (and mutated, for CI's floor check).
        with_captions: whether its view carries the training captions (its threat model).
        target: the model attacked (a zoo card or a user's folder) and its weights' digest.
        profile, seed, budget: the cell's profile, run seed and N_G.
        bands, deltas: the dataset card's ℓ2 bands at the model's resolution, and its δs.
        key: the run folder (``RunKey``).
        compiled: whether the UNet runs through ``torch.compile``.
        draws: what the run samples, where the attack declares it (``Attack.draws``).
        data_root: the CelebA root the members are read from (None: ``BENCH_DATA``).
    """

    acard: AttackCard
    dcard: DatasetCard
    params: dict[str, Any]
    attack: Attack
    with_captions: bool
    target: Target
    profile: str
    seed: int
    budget: int
    bands: dict[str, Any]
    deltas: list[float]
    key: RunKey
    compiled: bool
    draws: Draws | None
    data_root: str | None = None

    @property
    def mcard(self) -> ModelCard:
        return self.target.card

    @property
    def outputs(self) -> Path:
        """The run folder relative to ``BENCH_HOME``, as the record names it."""
        return Path("runs") / self.key.relative


@dataclass(frozen=True)
class Outcome:
    """What the cell measured: the attack's result and every score of its outputs."""

    result: AttackResult
    metrics: Metrics
    candidates: Candidates | None
    canaries: Canaries | None
    member_set: Subset
    nonmember_set: Subset
    model_config: dict[str, Any]
    wall_seconds: float
    pool: PoolUse
    runtime: Runtime


def make_record(plan: CellPlan, outcome: Outcome) -> RunRecord:
    """The record of one cell, in the key order `bench run --json` prints."""
    mcard, target, result = plan.mcard, plan.target, outcome.result
    record: RunRecord = {
        "schema": SCHEMA,
        "attack": plan.acard.name,
        "attack_version": plan.acard.version,
        "params": plan.params,
        "model": mcard.name,
        "model_version": mcard.version,
        "dataset": plan.dcard.name,
        "dataset_version": plan.dcard.version,
        "scale": mcard.scale,
        "profile": plan.profile,
        "seed": plan.seed,
        "budget": plan.budget,
        "cost": result.cost,
        "metrics": outcome.metrics,
        "candidates": outcome.candidates,
        "canaries": outcome.canaries,
        "info": result.info,
        "checkpoint_sha256": target.digest,
        "external": target.external,
        **({"model_path": str(mcard.path)} if target.external else {}),
        **(
            {"member_manifest": {"path": target.listed_from, "n": len(outcome.member_set.files)}}
            if target.listed
            else {}
        ),
        "model_config": outcome.model_config,
        "data_cache": {
            "members": outcome.member_set.cache_key,
            "nonmembers": outcome.nonmember_set.cache_key,
        },
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
        "outputs": str(plan.outputs),
        "wall_seconds": outcome.wall_seconds,
        "pool": outcome.pool,
        "runtime": outcome.runtime,
    }
    return record
