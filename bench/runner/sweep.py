"""Behind `bench sweep`: one attack parameter over several values on one model, and a fixed pick.

Sweeps tune the attack cards' defaults, so their records stay out of the leaderboard (under
``sweeps/runs``), and every sweep's pick follows one stated rule (SELECTION_RULE), printed under
its table.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench.attacks.base import load_attack
from bench.attacks.declared import floor_metrics
from bench.cards import AttackCard, attack_card, validate
from bench.cards.overrides import typed_value
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.metrics.seednoise import beyond_noise, gap_se, standard_error
from bench.records import SWEEP_RECORDS, RunRecord, params_key, record_path, write_record
from bench.runner.cell import run_cell
from bench.runner.floors import metric
from bench.runner.spec import CellSpec, RunOptions
from bench.utils.atomic import write_text_atomic

SELECTION_RULE = (
    "the card's current value stays unless another value's mean UMS over the tuning seeds beats "
    "it by more than two standard errors of the gap (the leaderboard's seed-noise line). Bands "
    "are compared from the strictest: a value clearly below the card's value in a band drops "
    "out, a value clearly above it wins (the highest mean among those that are), and otherwise "
    "the comparison passes to the next band. Without the card's value among those swept, the "
    "highest mean UMS in the strictest band wins, ties going to the next band, then to the "
    "smaller value (or the value listed first). A value that switches the mechanism off (the "
    "card's `off` values, e.g. λ = 0) is a reference row only"
)


def select_value(
    rows: list[dict[str, Any]], reference: list[Any] | None = None, incumbent: Any = None
) -> Any:
    """The sweep's winner under SELECTION_RULE.

    The card's value (``incumbent``) has to be beaten beyond seed noise: on a tuning model where
    every setting finds the same members, a rule that follows the best mean would change a
    default on a margin that another set of seeds reverses (K = 200 did, at one seed). Numbers tie
    to the smaller value; other values (a feature space) to the one listed first. ``reference``
    values switch the mechanism off: a default that removes the mechanism would no longer be the
    attack, so they are shown but never picked.
    """
    rows = [r for r in rows if r["value"] not in (reference or [])] or rows
    numeric = all(isinstance(r["value"], int | float) for r in rows)
    order = sorted(rows, key=lambda r: r["value"]) if numeric else rows
    rank = {id(r): i for i, r in enumerate(order)}
    held = next((r for r in rows if r["value"] == incumbent), None)
    if held is None:
        return max(rows, key=lambda r: (*(r[f"ums_{b}"] for b in BAND_NAMES), -rank[id(r)]))[
            "value"
        ]
    alive = [r for r in rows if r is not held]
    for band in BAND_NAMES:
        key = f"ums_{band}"
        judged = [(r, _against(r, held, key)) for r in alive]
        alive = [r for r, side in judged if side >= 0]
        above = [r for r, side in judged if side > 0]
        if above:
            return max(above, key=lambda r: (r[key], -rank[id(r)]))["value"]
    return incumbent


def _against(row: dict[str, Any], held: dict[str, Any], key: str) -> int:
    """+1 or -1 where ``row`` is above or below the card's value beyond seed noise, else 0."""
    gap = row[key] - held[key]
    se = gap_se(row.get(f"{key}_se", 0.0), held.get(f"{key}_se", 0.0))
    if gap == 0 or not beyond_noise(gap, se):
        return 0
    return 1 if gap > 0 else -1


def sweep_values(
    acard: AttackCard, profile: str, param: str, values: list[str] | None
) -> list[Any]:
    """The swept values, in the type of the card default they replace (so an integer stays one);
    without ``values``, the ``sweep`` values its card declares for it."""
    if values is None and param == acard.sweep.get("param"):
        values = [str(v) for v in acard.sweep.get("values", [])]
    if not values:
        raise BenchError(f"give at least one value of {param} to sweep (--values a,b,…)")
    return list(dict.fromkeys(typed_value(acard, profile, param, v) for v in values))


def sweep_row(rec: dict[str, Any], param: str, path: Path) -> dict[str, Any]:
    """One line of a sweep table: the value, UMS and AMS by band, duplicated members reached,
    the mechanism metrics the attack's class floors (``info.…``, e.g. a steering rate) where
    measured, and the record."""
    m = rec["metrics"]
    info = rec.get("info") or {}
    mechanism = {
        name.split(".", 1)[1]: metric(rec, name)
        for name in floor_metrics(rec["attack"])
        if name.startswith("info.") and name.split(".", 1)[1] in info
    }
    return {
        "value": _value(rec, param),
        **{f"ums_{b}": m["ums"][b] for b in BAND_NAMES},
        **{f"ams_{b}": m["ams"][b] for b in BAND_NAMES},
        **_duplicates(rec.get("canaries")),
        **mechanism,
        "record": str(path),
    }


def mean_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One value's rows over the tuning seeds: numbers averaged, UMS with its standard error, the
    lowest tier per seed listed.

    One seed's margin of a member or two decided single-seed sweeps on a saturated tuning model;
    the mean over seeds, and its noise, are what the rule compares.
    """
    if len(rows) == 1:
        return rows[0]
    out: dict[str, Any] = {"value": rows[0]["value"], "seeds": len(rows)}
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key == "value":
            continue
        if key in ("lowest_tier", "record"):
            out[key] = ", ".join(str(v) for v in values)
        else:
            out[key] = float(np.mean(values))
        if key.startswith("ums_"):
            out[f"{key}_se"] = standard_error(values)
    return out


def _duplicates(canaries: dict[str, Any] | None) -> dict[str, Any]:
    """Duplicated members found in the high band, and the lowest duplicate tier reached."""
    if not canaries:
        return {}
    tiers = canaries["tiers"]
    return {
        "duplicated_high": sum(round(t["hit_rate"]["high"] * t["n"]) for t in tiers),
        "lowest_tier": canaries["lowest_tier_reached"],
    }


def _value(rec: dict[str, Any], param: str) -> Any:
    """The swept value; a record leaves a parameter at its neutral value out (``Param.neutral``)."""
    if param in rec["params"]:
        return rec["params"][param]
    return attack_card(rec["attack"]).declared[param].neutral


def sweep_table_path(
    rec: dict[str, Any], param: str, root: Path, seeds: list[int], base: dict[str, Any] | None
) -> Path:
    """Named by what was swept; a sweep on top of ``--set`` overrides adds their hash."""
    tag = f"-set{params_key(base)}" if base else ""
    seed = f"seed{seeds[0]}" if len(seeds) == 1 else "seeds" + "-".join(map(str, seeds))
    name = f"{rec['attack']}-{rec['model']}-{param}{tag}-{seed}-n{rec['budget']}.md"
    return root / "sweeps" / name


def write_sweep_table(
    rec: dict[str, Any],
    param: str,
    rows: list[dict[str, Any]],
    root: Path,
    reference: list[Any],
    seeds: list[int],
    base: dict[str, Any] | None,
    incumbent: Any = None,
) -> Path:
    """<root>/sweeps/<attack>-<model>-<param>[-set<hash>]-seed<s>-n<N_G>.md: rows and pick."""
    out = sweep_table_path(rec, param, root, seeds, base)
    which = (
        f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over seeds {', '.join(map(str, seeds))}"
    )
    fixed = f" with {', '.join(f'{k} = {v}' for k, v in base.items())}" if base else ""
    write_text_atomic(
        out,
        f"# Sweep of {param}: {rec['attack']} on {rec['model']}{fixed}, {which}, "
        f"N_G={rec['budget']}\n\n"
        + tabulate(rows, headers="keys", tablefmt="github")
        + f"\n\n{selection_line(rows, param, reference, incumbent)}\n",
    )
    return out


def selection_line(
    rows: list[dict[str, Any]], param: str, reference: list[Any], incumbent: Any = None
) -> str:
    """The pick, or a plain statement that UMS did not tell the values apart (e.g. a parameter
    that only changes a filter's candidates, which UMS over all N_G outputs does not see)."""
    scores = {tuple(r[f"ums_{b}"] for b in BAND_NAMES) for r in rows}
    if len(rows) > 1 and len(scores) == 1:
        return f"No {param} selected: every value scored the same UMS in every band."
    pick = select_value(rows, reference, incumbent)
    kept = " (the card's value, not beaten beyond seed noise)" if pick == incumbent else ""
    return f"Selected {param} = {pick}{kept}. Rule: {SELECTION_RULE}."


def run_sweep(
    spec: CellSpec,
    param: str,
    values: list[Any],
    seeds: list[int],
    root: Path,
    compile: bool | None = None,
) -> tuple[RunRecord, list[dict[str, Any]]]:
    """One record per value of ``param`` and tuning seed, on top of ``spec``'s overrides, written
    under ``root``'s ``sweeps/runs``; returns the last record and one table row per value (the
    mean over the seeds). Every value is checked by the attack first, so a bad last value fails
    before the first value's runs, not after them. ``compile`` as ``RunOptions.compile``."""
    acard = attack_card(spec.attack)
    for value in values:
        load_attack(
            acard, validate.attack_params(acard, spec.profile, {**spec.overrides, param: value})
        )
    rows = []
    for value in values:
        per_seed = []
        for seed in seeds:
            cell = replace(spec, seed=seed, overrides={**spec.overrides, param: value})
            rec = run_cell(cell, RunOptions(write=False, compile=compile))
            path = record_path(rec, SWEEP_RECORDS, root=root)
            write_record(path, rec)
            per_seed.append(sweep_row(rec, param, path.relative_to(root)))
            print(
                f"{param}={value}, seed {seed}: UMS "
                + ", ".join(f"{b} {100 * v:.2f}%" for b, v in rec["metrics"]["ums"].items()),
                flush=True,
            )
        rows.append(mean_row(per_seed))
    return rec, rows


def sweep_param(acard: AttackCard, param: str | None) -> str:
    """``--param``, or the card's parameter that declares ``sweep`` values."""
    if param is not None:
        return param
    if "param" not in acard.sweep:
        raise BenchError(
            f"attack {acard.name} declares no parameter with sweep values; pass --param"
        )
    return acard.sweep["param"]
