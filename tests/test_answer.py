"""Verdicts that state their power: a cell that could not have shown the claimed margin never
reads "no", and new members are counted member by member against the same seed's baseline."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.report.answer import (
    answer_paragraph,
    answer_table,
    equal_compute,
    judge_margin,
    largest_budget,
    new_members,
    turnover,
)
from bench.report.tables import ordering_table

MARGIN = {
    "by": "SIDE",
    "attack": "side",
    "baselines": ["side-ti", "carlini"],
    "factor": 1.5,
    "new_against": "carlini",
    "source": "test",
}


@pytest.mark.parametrize(
    ("side", "carlini", "ceiling", "verdict"),
    [
        ([64, 64, 64], [64, 64, 64], 64, "undecided (no power: 1.5× the baseline exceeds"),
        ([10, 20, 30], [10, 12, 14], 1000, "undecided (no power: the claimed gap"),
        ([0, 0, 1], [0, 0, 0], 1000, "undecided (no power: no attack finds"),
        ([10, 11, 10], [20, 21, 20], 1000, "no"),
        ([40, 42, 41], [20, 21, 20], 1000, "yes"),
        ([29, 31, 30], [20, 21, 20], 1000, "undecided (within seed noise)"),
        ([5], [3], 1000, "undecided (no power: one seed"),
    ],
)
def test_a_margin_verdict_states_its_power(side, carlini, ceiling, verdict) -> None:
    check = judge_margin(side, {"carlini": carlini}, 1.5, ceiling)
    assert check.verdict.startswith(verdict)
    assert check.powered == (not verdict.startswith("undecided (no power"))


def test_the_better_baseline_sets_the_bar() -> None:
    check = judge_margin([30, 31, 30], {"carlini": [10, 11, 10], "side-ti": [25, 26, 25]}, 1.5, 500)
    assert check.baseline == "side-ti" and check.verdict == "no"  # 30.3 < 1.5 × 25.3


def _frame(side: list[float], carlini: list[float], members: int) -> pd.DataFrame:
    rows = []
    for attack, counts in (("side", side), ("carlini", carlini)):
        for seed, n in enumerate(counts):
            rows.append(
                {
                    "scale": "64",
                    "model": "m",
                    "budget": 512,
                    "attack": attack,
                    "seed": seed,
                    "params": "{}",
                    "external": False,
                    "members": members,
                    "distinct_high": n,
                    "ums_high": n / 512,
                    "hit_high": n / members,
                    "nm_hit_high": 0.0,
                    "hits_high": frozenset(range(n)) if attack == "carlini" else None,
                }
            )
    return pd.DataFrame(rows)


def test_an_ordering_verdict_without_power_never_reads_no() -> None:
    saturated = _frame([60, 61, 62], [64, 64, 64], 64)  # side below carlini, carlini at ceiling
    without = ordering_table(saturated, ["side", "carlini"], bands=("high",))
    assert without["paper's order holds"].iloc[0].startswith("no")  # what the old table said
    row = ordering_table(saturated, ["side", "carlini"], bands=("high",), margin=MARGIN).iloc[0]
    assert row["paper's order holds"] == "undecided (no power)"
    assert row["1.5× claim detectable"].startswith("(no power: 1.5× the baseline exceeds")
    powered = ordering_table(
        _frame([10, 11, 10], [20, 21, 20], 1000), ["side", "carlini"], ("high",), MARGIN
    ).iloc[0]
    assert powered["paper's order holds"] == "no" and powered["1.5× claim detectable"] == "yes"
    assert float(powered["smallest detectable gap (2 SE, members)"]) == 0.9  # 2 × 0.47


def test_new_members_are_counted_against_the_same_seed() -> None:
    df = _frame([3, 3], [2, 1], 100)
    df.loc[df["attack"] == "side", "hits_high"] = [frozenset({0, 5, 6}), frozenset({0, 1, 9})]
    new = new_members(df, "carlini")[df["attack"] == "side"]
    assert new.tolist() == [2.0, 2.0]  # seed 0: {5, 6} beyond {0, 1}; seed 1: {1, 9} beyond {0}
    older = df.assign(hits_high=None)
    assert new_members(older, "carlini").isna().all()  # records before schema 4 cannot say


def test_new_members_stand_beside_the_baselines_own_turnover() -> None:
    df = _frame([3, 3], [2, 1], 100)  # carlini's seeds hit {0, 1} and {0}
    df.loc[df["attack"] == "side", "hits_high"] = [frozenset({0, 5, 6}), frozenset({0, 1, 9})]
    assert turnover(df, "carlini") == 0.5  # seed 0 finds 1 that seed 1 misses; seed 1, none
    assert math.isnan(turnover(df[df["seed"] == 0], "carlini"))  # one seed has no turnover
    row = answer_table(df, MARGIN, {}).iloc[0]
    assert row["new vs carlini (its turnover)"] == "2.0 (0.5)"
    alone = answer_table(df[(df["attack"] == "side") | (df["seed"] == 0)], MARGIN, {})
    assert alone["new vs carlini (its turnover)"].iloc[0] == "2.0"  # no turnover from one seed


def test_the_answer_reads_cannot_tell_when_no_model_has_power() -> None:
    table = answer_table(_frame([64, 64, 64], [64, 64, 64], 64), MARGIN, {"m": 0.98})
    assert table["side ≥ 1.5× the better baseline?"].iloc[0].startswith("undecided (no power")
    assert table["ceiling"].iloc[0] == 64 and table["memorised"].iloc[0] == "98%"
    text = answer_paragraph(table, MARGIN)
    assert "**Answer: cannot tell**" in text and "1 cannot decide it (no power) (m)" in text


def test_the_answer_reads_cannot_tell_when_every_powered_cell_is_inside_noise() -> None:
    """Neither a yes nor a no: a margin inside seed noise is not "it depends on the model"."""
    table = answer_table(_frame([29, 31, 30], [20, 21, 20], 1000), MARGIN, {})
    assert table["side ≥ 1.5× the better baseline?"].iloc[0].startswith("undecided (within")
    text = answer_paragraph(table, MARGIN)
    assert "**Answer: cannot tell**: where a cell had the power" in text
    assert "depends" not in text and "Of 1 model, 1 could decide it" in text


def test_a_model_without_the_claiming_attack_is_not_counted() -> None:
    both = _frame([64, 64, 64], [64, 64, 64], 64)
    alone = _frame([], [10, 11, 12], 1000).assign(model="n", scale="1k")
    table = answer_table(pd.concat([both, alone]), MARGIN, {})
    verdicts = table.set_index("model")["side ≥ 1.5× the better baseline?"]
    assert (
        verdicts["n"] == "no current side runs"
        and table.set_index("model").loc["n", "memorised"] == "-"
    )
    text = answer_paragraph(table, MARGIN)
    assert "Of 1 model, 0 could decide it" in text and "(n)" not in text


def test_the_largest_budget_is_one_every_attack_in_the_claim_reached() -> None:
    short = _frame([3, 3], [2, 1], 100)
    long = pd.concat([short, short.assign(budget=5120), short.assign(budget=2048)])
    long = long[~((long["attack"] == "carlini") & (long["budget"] == 5120))]
    claim = {**MARGIN, "baselines": ["carlini"]}
    picked = largest_budget(long, claim, shared=512)
    assert set(picked["budget"]) == {2048}  # carlini stops at 2,048, so the claim is read there
    assert largest_budget(short, claim, shared=512).empty  # nothing beyond the shared N_G


def test_equal_compute_puts_chance_beside_every_count() -> None:
    shipped = _frame([7, 8, 7], [], 5000).assign(evals=556_800)
    cheap = _frame([], [9, 12, 10], 5000).assign(evals=102_400, budget=2048, nm_hit_high=0.002)
    costly = cheap.assign(evals=1_000_000, budget=8192)  # beyond side's compute: never read
    claim = {**MARGIN, "baselines": ["carlini"]}
    row = equal_compute(shipped, pd.concat([cheap, costly]), claim).iloc[0].to_dict()
    # carlini's 10.3 members at N_G 2,048 are what 0.2% non-member hits give 5,000 members (10.0).
    assert row == {
        "model": "m",
        "side (chance); evals": "7.3 (0.0); 556,800",
        "carlini at ≤ equal evals": "10.3 (10.0); N_G 2048, 102,400",
    }
