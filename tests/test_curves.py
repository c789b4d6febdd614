"""Budget curves: prefixes of one seeded run are scored as the smaller budgets they equal."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cards import model_card
from bench.report.curves import curve_pivot
from bench.runner.curves import prefix_cost
from bench.utils.paths import reports_dir
from tests.conftest import FAST_SIDE, cell_record, curve_records


def test_prefix_cost_keeps_preparation_and_scales_the_rest() -> None:
    cost = {
        "unet_evaluations": 1000 + 64 * 10,
        "classifier_evaluations": 32 + 64 * 10,
        "prep_unet_evaluations": 1000,
        "prep_classifier_evaluations": 32,
    }
    assert prefix_cost(cost, 16, 64) == {
        "unet_evaluations": 1000 + 16 * 10,
        "prep_unet_evaluations": 1000,
        "classifier_evaluations": 32 + 16 * 10,
        "prep_classifier_evaluations": 32,
    }


def test_curve_pivot_reads_each_attack_across_budgets() -> None:
    def rec(model: str, attack: str, budget: int, hits: int, **kw: object) -> dict:
        base = {"stale": "", "defaults": True, "scale": model.split("-")[1], "members": 100}
        base["nm_hit_high"] = 0.01
        base["chance_high"] = 0.01 * 100  # the frame's chance column: hit rate × members
        return {
            **base,
            "model": model,
            "attack": attack,
            "budget": budget,
            "distinct_high": hits,
            **kw,
        }

    df = pd.DataFrame(
        [
            rec("celeba-1k-x", "side", 32, 3),
            rec("celeba-1k-x", "side", 32, 5),
            rec("celeba-1k-x", "side", 64, 7),
            rec("celeba-64-x", "carlini", 64, 9),
            rec("celeba-64-x", "carlini", 64, 99, stale="older card"),
            rec("celeba-64-x", "carlini", 64, 99, defaults=False),
        ]
    )
    pivot = curve_pivot(df)
    assert list(pivot.columns) == ["model", "attack", "seeds", "32", "64"]
    # 64 members sort before 1k; stale and non-default records never enter a cell.
    assert pivot.to_dict("records") == [
        {"model": "celeba-64-x", "attack": "carlini", "seeds": 1, "32": "-", "64": "9.0 (1.0)"},
        {
            "model": "celeba-1k-x",
            "attack": "side",
            "seeds": 1,
            "32": "4.0 ± 1.4 (1.0)",
            "64": "7.0 (1.0)",
        },
    ]


def test_curve_prefix_equals_a_run_at_that_budget(trained: Path) -> None:
    paths = curve_records(
        "carlini", "tiny-8", [4, 16, 8], [3], overrides={"clique_k": 2}, progress=False
    )
    records = {json.loads(p.read_text())["budget"]: json.loads(p.read_text()) for p in paths}
    assert sorted(records) == [4, 8, 16] and all(r["prefix_of"] == 16 for r in records.values())
    steps = model_card("tiny-8").scheduler["sampling_steps"]
    assert [records[n]["cost"]["unet_evaluations"] for n in (4, 8, 16)] == [
        4 * steps,
        8 * steps,
        16 * steps,
    ]
    direct = cell_record(
        "carlini", "8", seed=3, budget=16, overrides={"clique_k": 2}, progress=False, write=False
    )
    assert records[16]["metrics"] == direct["metrics"]
    assert records[4]["metrics"]["n_outputs"] == 4
    assert "curves" in str(paths[0]) and "/runs/carlini/" in str(paths[0])
    assert not (reports_dir() / "runs").exists()  # an override is no grid cell


def test_a_full_run_at_the_shared_budget_is_also_the_grid_cell(trained: Path) -> None:
    curve_records(
        "carlini", "tiny-8", [4, 16], [0], progress=False, results=reports_dir()
    )  # N_G 16
    grid = list((reports_dir() / "runs" / "carlini" / "tiny-8").glob("seed0-n16-*.json"))
    assert len(grid) == 1
    direct = cell_record("carlini", "8", seed=0, budget=16, write=False)
    assert json.loads(grid[0].read_text())["metrics"] == direct["metrics"]


def test_side_curve_charges_preparation_at_every_budget(trained: Path) -> None:
    paths = curve_records("side", "tiny-8", [4, 8], [0], overrides=FAST_SIDE)
    costs = {json.loads(p.read_text())["budget"]: json.loads(p.read_text())["cost"] for p in paths}
    steps = model_card("tiny-8").scheduler["sampling_steps"]
    prep = 32 * steps  # the synthetic set
    assert costs[4]["unet_evaluations"] == prep + 4 * steps
    assert costs[8]["unet_evaluations"] == prep + 8 * steps
    assert costs[4]["prep_classifier_evaluations"] == costs[8]["prep_classifier_evaluations"] > 0


def test_curve_refuses_non_positive_budgets(trained: Path) -> None:
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="output budget N_G must be ≥ 1"):
        curve_records("carlini", "tiny-8", [0, 8], [0])


def test_count_bars_never_reach_below_zero_and_chance_is_scaled() -> None:
    from bench.report.plots import _sd_above_zero, _spread, chance_ums

    mean, low, high = _spread(pd.Series([0.0, 0.0, 3.0]))  # mean 1, sd 1.73
    assert mean == 1.0 and low == 1.0 and abs(high - 3**0.5) < 1e-12  # cut at zero, not 1 − 1.73
    lower, upper = _sd_above_zero(pd.Series([0.0, 0.0, 3.0]))  # the interval seaborn draws
    assert lower == 0.0 and abs(upper - (1 + 3**0.5)) < 1e-12
    runs = pd.DataFrame({"nm_hit_low": [0.011], "members": [5000], "budget": [512]})
    assert chance_ums(runs, "low").iloc[0] == 0.011 * 5000 / 512  # 10.7%, not the pool's 2.1%
