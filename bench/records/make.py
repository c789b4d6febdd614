"""The one place a run record is assembled, so every writer (a cell, a curve's prefixes) agrees.

The cell runner scores the outputs; this turns the cards, the target, the attack's result and the
scores into the record ``records.types.RunRecord`` describes, naming everything that produced it.
"""

from __future__ import annotations

from typing import Any

from bench.attacks.base import AttackResult
from bench.cards import AttackCard, DatasetCard
from bench.data.subset import Subset
from bench.records.io import SCHEMA
from bench.records.types import Canaries, Candidates, Metrics, PoolUse, RunRecord, Runtime
from bench.utils.provenance import git_commit, machine, versions
from bench.zoo.targets import Target


def make_record(
    *,
    acard: AttackCard,
    params: dict[str, Any],
    target: Target,
    dcard: DatasetCard,
    profile: str,
    seed: int,
    budget: int,
    result: AttackResult,
    metrics: Metrics,
    candidates: Candidates | None,
    canaries: Canaries | None,
    member_set: Subset,
    nonmember_set: Subset,
    model_config: dict[str, Any],
    outputs: str,
    wall_seconds: float,
    pool: PoolUse,
    runtime: Runtime,
) -> RunRecord:
    """The record of one cell, in the key order `bench run --json` prints."""
    mcard = target.card
    record: RunRecord = {
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
        "candidates": candidates,
        "canaries": canaries,
        "info": result.info,
        "checkpoint_sha256": target.digest,
        "external": target.external,
        **({"model_path": str(mcard.path)} if target.external else {}),
        **(
            {"member_manifest": {"path": target.listed_from, "n": len(member_set.files)}}
            if target.listed
            else {}
        ),
        "model_config": model_config,
        "data_cache": {"members": member_set.cache_key, "nonmembers": nonmember_set.cache_key},
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
        "outputs": outputs,
        "wall_seconds": wall_seconds,
        "pool": pool,
        "runtime": runtime,
    }
    return record
