"""`bench floors`: measure run-to-run variation of an attack and derive CI's strength floors.

CI re-runs one fixed seed of each floored cell and fails if a metric drops below its floor. The
floor is not tuned by hand: it is the mean over several seeds minus three standard deviations
(never below zero), so a code change that weakens an attack beyond seed noise is caught while
ordinary seed-to-seed variation is not. Three seeds can agree exactly (a saturated model puts every
output in the high band), which would make the floor the mean itself and let one output that lands
differently on another CPU fail CI; the margin is therefore never smaller than one output (one
member, for counts), the finest step the metric can take.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import write_json_atomic
from bench.cliargs import json_object, positive_int, seed_list
from bench.harness import run_cell
from bench.paths import reports_dir
from bench.provenance import git_commit, machine, versions

FLOORED = ("ams.high", "ums.high", "extracted.0.05", "gu_fraction")
COUNTS = ("extracted.0.05",)
SIGMAS = 3.0


def metric(record: dict[str, Any], path: str) -> float:
    """A metric by dotted path; ``extracted.0.05`` keeps the δ key whole."""
    head, _, rest = path.partition(".")
    value = record["metrics"][head]
    return float(value[rest] if rest else value)


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


def floors_path(attack: str, scale: str) -> Path:
    return reports_dir() / "floors" / f"{attack}-{scale}.json"


def measure_floors(
    attack: str, scale: str, seeds: list[int], budget: int, overrides: dict[str, Any], ci_seed: int
) -> dict[str, Any]:
    records = [
        run_cell(
            attack, scale, seed=s, budget=budget, overrides=overrides, progress=False, write=False
        )
        for s in seeds
    ]
    per_metric = {
        name: summarise([metric(r, name) for r in records], name, budget) for name in FLOORED
    }
    return {
        "attack": attack,
        "scale": scale,
        "model": records[0]["model"],
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


def cmd_floors(args: argparse.Namespace) -> int:
    overrides = args.overrides or {}
    seeds = args.seeds
    result = measure_floors(args.attack, args.scale, seeds, args.budget, overrides, seeds[0])
    path = floors_path(args.attack, args.scale)
    write_json_atomic(path, result)
    for name, m in result["metrics"].items():
        print(f"{name}: mean {m['mean']:.4f} ± {m['std']:.4f} -> floor {m['floor']:.4f}")
    print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("floors", help="measure seed variation and write CI's attack floors")
    p.add_argument("--attack", required=True)
    p.add_argument("--scale", required=True)
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    p.add_argument("--budget", type=positive_int, default=128)
    p.add_argument(
        "--overrides", type=json_object, default=None, help="JSON of attack parameters to override"
    )
    p.set_defaults(func=cmd_floors)
