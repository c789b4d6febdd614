"""`bench floors`: measure run-to-run variation of an attack and derive CI's strength floors.

CI re-runs one fixed seed of each floored cell and fails if a metric drops below its floor. Floors
cover extraction and, where the record measures it, the attack's mechanism (SIDE's steering rate,
the precision of carlini's clique-filtered candidates), and the floor file records which of the
attack's mutations (``bench.attacks.mutations``: its mechanism switched off) fall below them. The
floor is not tuned by hand: it is the mean over several seeds minus three standard deviations
(never below zero), so a code change that weakens an attack beyond seed noise is caught while
ordinary seed-to-seed variation is not. Three seeds can agree exactly (a saturated model puts every
output in the high band), which would make the floor the mean itself and let one output that lands
differently on another CPU fail CI; the margin is therefore never smaller than one output (one
member, for counts), the finest step the metric can take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.attacks.base import checked_class
from bench.attacks.declared import floor_metrics
from bench.attacks.mutations import mutations_for
from bench.cards import attack_card, model_card
from bench.runner.cell import run_cell
from bench.runner.spec import CellSpec, RunOptions, ZooModel
from bench.utils.paths import reports_dir
from bench.utils.provenance import git_commit, machine, versions

FLOORED = ("ams.high", "ums.high", "extracted.0.05", "gu_fraction")
COUNTS = ("extracted.0.05",)
SIGMAS = 3.0


def metric(record: dict[str, Any], path: str) -> float:
    """A value by dotted path: under ``metrics`` unless it starts with ``info.``/``candidates.``.

    The last part after the root is one key, so ``extracted.0.05`` keeps the δ whole.
    """
    root, _, rest = path.partition(".")
    if root in ("info", "candidates"):
        head, _, rest = rest.partition(".")
        value = record[root][head]
    else:
        head, value = root, record["metrics"][root]
    return float(value[rest] if rest else value)


def floored_metrics(record: dict[str, Any]) -> list[str]:
    """Extraction metrics, plus the mechanism metrics this record carries: those its attack's
    class declares (``Attack.floor_metrics``) and the precision of filtered candidates at every
    δ."""
    names = list(FLOORED)
    names += [m for m in floor_metrics(record.get("attack", "")) if _carries(record, m)]
    if record.get("candidates"):
        names += [f"candidates.precision.{d}" for d in record["candidates"]["precision"]]
    return names


def _carries(record: dict[str, Any], path: str) -> bool:
    try:
        metric(record, path)
    except (KeyError, TypeError):
        return False
    return True


def weaker(spec: dict[str, Any], record: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Floored metrics of ``record`` below the floor file's floors: name -> (value, floor)."""
    return {
        name: (metric(record, name), m["floor"])
        for name, m in spec["metrics"].items()
        if metric(record, name) < m["floor"]
    }


def floor_cell(spec: dict[str, Any], mutation: str | None = None) -> dict[str, Any]:
    """Re-run a floor file's CI cell from scratch (earlier outputs discarded, preparation kept),
    as the attack or as one of its mutations: a mutated run must never resume from the real
    run's shards."""
    return _unwritten_cell(
        spec["attack"],
        spec["model"],
        spec["ci_seed"],
        spec["budget"],
        spec["overrides"],
        mutation=mutation,
    )


def _unwritten_cell(
    attack: str,
    model: str,
    seed: int,
    budget: int,
    overrides: dict[str, Any],
    fresh: bool = True,
    mutation: str | None = None,
) -> dict[str, Any]:
    """One cell whose record is measured, not published: floors are derived from it."""
    spec = CellSpec(
        attack,
        ZooModel(model),
        profile=model_card(model).profile,
        seed=seed,
        budget=budget,
        overrides=overrides,
    )
    options = RunOptions(write=False, progress=False, fresh=fresh, mutation=mutation)
    return run_cell(spec, options)


def check_mutations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run each mutation of the attack on the CI cell and record whether the floors catch it."""
    acard = attack_card(spec["attack"])
    out = {}
    for name in mutations_for(checked_class(acard), acard):
        below = weaker(spec, floor_cell(spec, mutation=name))
        out[name] = {"caught": bool(below), "below_floor": {k: list(v) for k, v in below.items()}}
    return out


def resolution(name: str, budget: int) -> float:
    """The smallest change a metric can show: one member for counts, one output for fractions."""
    return 1.0 if name in COUNTS else 1.0 / budget


def summarise(values: list[float], name: str, budget: int) -> dict[str, Any]:
    """Mean, sample std and the floor of one metric over the measured seeds."""
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    margin = max(SIGMAS * std, resolution(name, budget))
    return {
        "values": arr.tolist(),
        "mean": float(arr.mean()),
        "std": std,
        "floor": max(0.0, float(arr.mean()) - margin),
    }


def floors_path(attack: str, model: str) -> Path:
    return reports_dir() / "floors" / f"{attack}-{model}.json"


def measure_floors(
    attack: str, model: str, seeds: list[int], budget: int, overrides: dict[str, Any], ci_seed: int
) -> dict[str, Any]:
    scale = model_card(model).scale
    records = [_unwritten_cell(attack, model, s, budget, overrides, fresh=False) for s in seeds]
    per_metric = {
        name: summarise([metric(r, name) for r in records], name, budget)
        for name in floored_metrics(records[0])
    }
    return {
        "attack": attack,
        "scale": scale,
        "model": model,
        "checkpoint_sha256": records[0]["checkpoint_sha256"],
        "budget": budget,
        "overrides": overrides,
        "seeds": seeds,
        "ci_seed": ci_seed,
        "sigmas": SIGMAS,
        "metrics": per_metric,
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
    }
