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
from bench.cards import AttackCard, attack_card, dataset_card, model_card, validate
from bench.cards.overrides import typed_value
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.metrics.contrasts import ALPHA
from bench.metrics.selection import ValueScores, cheapest_not_worse, select_value
from bench.records import (
    SWEEP_RECORDS,
    RunRecord,
    params_key,
    read_record,
    record_path,
    staleness,
    write_record,
)
from bench.runner.cell import default_budget, run_cell
from bench.runner.floors import metric
from bench.runner.spec import CellSpec, RunOptions, ZooModel
from bench.utils.atomic import write_text_atomic

SELECTION_RULE = (
    "each value is compared with the card's current value band by band, from the strictest, on "
    "its UMS at each tuning seed minus the card's value's UMS at that seed (paired: every value "
    "starts from the same noise at one seed), by a one-sided Student t test on those differences "
    f"at α = {ALPHA:g}, Bonferroni-corrected over the values compared with the card's (the "
    "leaderboard's verdicts use the same test, bench/metrics/contrasts.py). A value clearly below "
    "the card's value in a band drops out; a value clearly above it wins (the highest mean among "
    "those that are); otherwise the comparison passes to the next band, and the card's value "
    "stays where no band decides. With one seed there is no spread to test and any lead counts. "
    "Without the card's value among those swept, the highest mean UMS in the strictest band wins, "
    "ties going to the next band, then to the smaller value (or the value listed first). A value "
    "that switches the mechanism off (the card's `off` values, e.g. λ = 0) is a reference row only"
)


COST_RULE = (
    "for a parameter that only sets cost (its card's `cost_only`), each value cheaper than the "
    "card's (by the model evaluations its records counted, UNet and classifier alike, the "
    "measure of the leaderboard's equal-compute tables) is compared with the card's value "
    "band by band on its UMS minus the card's value's at each tuning seed, by a one-sided paired "
    f"Student t test for a drop at α = {ALPHA:g}, with no correction for the number of cheaper "
    "values (each one more chance of adopting a value that extracts less, so each must clear the "
    "full α alone); the cheapest value that no band finds clearly below the card's replaces it, "
    "else the card's value stays. Three seeds may miss a real drop: each test states its power to "
    "see one seed standard deviation of the card's value"
)


def value_scores(per_seed: list[dict[str, Any]]) -> ValueScores:
    """One value's sweep rows (one per tuning seed, each with its ``seed``) as ValueScores."""
    return ValueScores(
        per_seed[0]["value"],
        {b: {r["seed"]: r[f"ums_{b}"] for r in per_seed} for b in BAND_NAMES},
    )


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
    """One line of a sweep table at one seed: the value, UMS and AMS by band, duplicated members
    reached, the mechanism metrics the attack's class floors (``info.…``, e.g. a steering rate)
    where measured, and the record."""
    m = rec["metrics"]
    info = rec.get("info") or {}
    mechanism = {
        name.split(".", 1)[1]: metric(rec, name)
        for name in floor_metrics(rec["attack"])
        if name.startswith("info.") and name.split(".", 1)[1] in info
    }
    return {
        "value": _value(rec, param),
        "seed": rec["seed"],
        **{f"ums_{b}": m["ums"][b] for b in BAND_NAMES},
        **{f"ams_{b}": m["ams"][b] for b in BAND_NAMES},
        "unet_evaluations": rec["cost"]["unet_evaluations"],
        "evaluations": rec["cost"]["unet_evaluations"] + rec["cost"]["classifier_evaluations"],
        **_duplicates(rec.get("canaries")),
        **mechanism,
        "record": str(path),
    }


def mean_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One value's rows over the tuning seeds, for the table: numbers averaged, UMS with its
    standard error over the seeds, the lowest tier per seed listed (the seeds are in the title).

    The rule does not read this row: it compares each seed's UMS with the card's value's at that
    seed (``value_scores``), which the mean and its unpaired SE would hide.
    """
    out: dict[str, Any] = {"value": rows[0]["value"]}
    if len(rows) > 1:
        out["seeds"] = len(rows)
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key in ("value", "seed"):
            continue
        if key in ("lowest_tier", "record"):
            out[key] = ", ".join(str(v) for v in values)
        else:
            out[key] = float(np.mean(values))
        if key.startswith("ums_") and len(rows) > 1:
            out[f"{key}_se"] = float(np.std(values, ddof=1) / np.sqrt(len(values)))
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
    per_value: list[list[dict[str, Any]]],
    root: Path,
    reference: list[Any],
    seeds: list[int],
    base: dict[str, Any] | None,
    incumbent: Any = None,
    cost_only: bool = False,
) -> Path:
    """<root>/sweeps/<attack>-<model>-<param>[-set<hash>]-seed<s>-n<N_G>.md: one row per value
    (the mean over its seeds' rows, ``per_value``), the pick and the rule."""
    out = sweep_table_path(rec, param, root, seeds, base)
    which = (
        f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over seeds {', '.join(map(str, seeds))}"
    )
    fixed = f" with {', '.join(f'{k} = {v}' for k, v in base.items())}" if base else ""
    write_text_atomic(
        out,
        f"# Sweep of {param}: {rec['attack']} on {rec['model']}{fixed}, {which}, "
        f"N_G={rec['budget']}\n\n"
        + tabulate([mean_row(rows) for rows in per_value], headers="keys", tablefmt="github")
        + f"\n\n{selection_line(per_value, param, reference, incumbent, cost_only)}\n",
    )
    return out


def selection_line(
    per_value: list[list[dict[str, Any]]],
    param: str,
    reference: list[Any],
    incumbent: Any = None,
    cost_only: bool = False,
) -> str:
    """The pick with the test that decided it, or a plain statement that UMS did not tell the
    values apart (e.g. a parameter that only changes a filter's candidates, which UMS over all
    N_G outputs does not see); then the rule, so every table states what decided it."""
    scores = [value_scores(rows) for rows in per_value]
    if len(scores) > 1 and len({tuple(s.mean(b) for b in BAND_NAMES) for s in scores}) == 1:
        return f"No {param} selected: every value scored the same UMS in every band."
    if cost_only and incumbent in [s.value for s in scores]:
        costs = {
            rows[0]["value"]: float(np.mean([r["evaluations"] for r in rows])) for rows in per_value
        }
        cost_pick = cheapest_not_worse(scores, costs, incumbent)
        return (
            f"Selected {param} = {cost_pick.value}{cost_pick.reason(incumbent)}. Rule: {COST_RULE}."
        )
    pick = select_value(scores, reference, incumbent)
    return f"Selected {param} = {pick.value}{pick.reason(incumbent)}. Rule: {SELECTION_RULE}."


def run_sweep(
    spec: CellSpec,
    param: str,
    values: list[Any],
    seeds: list[int],
    root: Path,
    compile: bool | None = None,
) -> tuple[RunRecord, list[list[dict[str, Any]]]]:
    """One record per value of ``param`` and tuning seed, on top of ``spec``'s overrides, written
    under ``root``'s ``sweeps/runs``; returns the last record and, per value, one table row per
    seed. Every value is checked by the attack first, so a bad last value fails before the first
    value's runs, not after them. ``compile`` as ``RunOptions.compile``."""
    acard = attack_card(spec.attack)
    for value in values:
        load_attack(
            acard, validate.attack_params(acard, spec.profile, {**spec.overrides, param: value})
        )
    per_value = []
    for value in values:
        per_seed = []
        for seed in seeds:
            cell = replace(spec, seed=seed, overrides={**spec.overrides, param: value})
            kept = _kept_record(cell, root)
            if kept is None:
                rec = run_cell(cell, RunOptions(write=False, compile=compile))
                path = record_path(rec, SWEEP_RECORDS, root=root)
                write_record(path, rec)
            else:
                path, rec = kept
                print(f"{param}={value}, seed {seed}: kept {path.relative_to(root)}", flush=True)
            per_seed.append(sweep_row(rec, param, path.relative_to(root)))
            print(
                f"{param}={value}, seed {seed}: UMS "
                + ", ".join(f"{b} {100 * v:.2f}%" for b, v in rec["metrics"]["ums"].items()),
                flush=True,
            )
        per_value.append(per_seed)
    return rec, per_value


def _kept_record(cell: CellSpec, root: Path) -> tuple[Path, RunRecord] | None:
    """A sweep record of this very cell already under ``root`` (a zoo model, the same recorded
    parameters, seed and N_G, the card's current version, the current checkpoint): a sweep that
    adds a value to an earlier one reuses the earlier runs instead of making them again."""
    if not isinstance(cell.model, ZooModel):
        return None
    budget = cell.budget or default_budget(
        dataset_card(model_card(cell.model.name).dataset), cell.profile
    )
    acard = attack_card(cell.attack)
    params = acard.recorded(validate.attack_params(acard, cell.profile, dict(cell.overrides)))
    where = {"attack": cell.attack, "model": cell.model.name, "seed": cell.seed}
    path = record_path({**where, "budget": budget, "params": params}, SWEEP_RECORDS, root)
    if not path.is_file():
        return None
    rec = read_record(path)
    if rec["params"] != params or staleness(rec):
        return None
    return path, rec


def sweep_param(acard: AttackCard, param: str | None) -> str:
    """``--param``, or the card's parameter that declares ``sweep`` values."""
    if param is not None:
        return param
    if "param" not in acard.sweep:
        raise BenchError(
            f"attack {acard.name} declares no parameter with sweep values; pass --param"
        )
    return acard.sweep["param"]
