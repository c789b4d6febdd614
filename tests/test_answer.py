"""The first screen's answers: each question its own test, read from typed verdicts, never from
the strings the report wrote; new members counted both ways against the same seed; equal compute
that says what it matched."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.report.answer import (
    answer_rows,
    equal_compute,
    largest_budget,
    new_members,
    turnover,
)
from bench.report.claims import MarginClaim, margin_claims
from bench.report.tables import ordering_table
from bench.report.verdicts import Verdict
from bench.report.view import answer_frame, answer_paragraph, first_screen, margin_column

MARGIN = MarginClaim(
    by="SIDE",
    attack="side",
    baselines=("side-ti", "carlini"),
    factor=1.5,
    new_against="carlini",
    source="test",
)
ONE_BASELINE = MarginClaim("SIDE", "side", ("carlini",), 1.5, "carlini", "test")


def _frame(side: list[float], carlini: list[float], members: int, nm: float = 0.0) -> pd.DataFrame:
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
                    "nm_hit_high": nm,
                    "chance_high": nm * members,
                    "evals": 556_800 if attack == "side" else 25_600,
                    "hits_high": frozenset(range(n)) if attack == "carlini" else None,
                }
            )
    return pd.DataFrame(rows)


def test_the_cards_margin_claim_is_typed() -> None:
    claims = {c.attack: c for c in margin_claims()}
    assert set(claims) == {"side", "side-paper"}
    for claim in claims.values():
        assert claim.baselines == ("side-ti", "carlini")
        assert claim.factor == 1.5 and isinstance(claim.factor, float)


def test_a_malformed_claim_is_one_clear_error() -> None:
    from bench.errors import BenchError
    from bench.report.claims import _margin

    raw = {"by": "X", "attack": "a", "baselines": ["b"], "factor": "1.5", "new_against": "b"}
    with pytest.raises(BenchError, match="claim field 'factor' must be a float"):
        _margin("a", {**raw, "source": "s"})
    with pytest.raises(BenchError, match="needs factor ≥ 1"):
        _margin("a", {**raw, "factor": 0.5, "source": "s"})


def test_new_members_are_counted_both_ways_against_the_same_seed() -> None:
    df = _frame([3, 3], [2, 1], 100)  # carlini's seeds hit {0, 1} and {0}
    df.loc[df["attack"] == "side", "hits_high"] = [frozenset({0, 5, 6}), frozenset({0, 1, 9})]
    new = new_members(df, "side", "carlini")
    assert new.found == {0: 2.0, 1: 2.0}  # seed 0: {5, 6} beyond {0, 1}; seed 1: {1, 9}
    assert new.missed == {0: 1.0, 1: 0.0}  # seed 0: carlini's 1 that side missed
    assert new.turnover == {0: 0.0, 1: 1.0}  # seed 1 misses the 1 that seed 0 found
    assert turnover({0: frozenset({1})}) == {}  # one seed has no turnover
    assert new_members(df.assign(hits_high=None), "side", "carlini") is None  # pre-schema 4


def test_the_margin_is_judged_on_counts_less_chance() -> None:
    """0.2% of 5,000 non-members hit: chance explains 10 members of every count. Raw, side's
    16 against carlini's 10 passes 1.5×; less chance it is 6 against 0 with a noisy spread."""
    df = _frame([16, 17, 15], [10, 11, 9], 5000, nm=0.002)
    (row,) = answer_rows(df, ONE_BASELINE, {})
    assert row.margin.bar_mean == 0.0 and row.margin.attack_mean == 6.0
    rendered = answer_frame([row], ONE_BASELINE).iloc[0]
    assert "side 6.0" in rendered["distinct members less chance, mean [95% CI], ranked"]
    assert (
        "(raw 16.0 − chance 10.0)"
        in rendered["distinct members less chance, mean [95% CI], ranked"]
    )


def test_the_paragraph_reads_typed_verdicts_not_strings() -> None:
    rows = answer_rows(_frame([64, 64, 64], [64, 64, 64], 64), MARGIN, {"m": 0.98})
    assert rows[0].margin.test.verdict is Verdict.NO_POWER
    text = answer_paragraph(rows, MARGIN)
    assert "Cannot tell" in text and "undecided (no power) on 1 (m)" in text
    failing = answer_rows(_frame([10, 11, 10], [20, 21, 20], 1000), MARGIN, {})
    assert failing[0].margin.test.verdict is Verdict.FAILS
    assert answer_paragraph(failing, MARGIN).startswith("**Is side ≥ 1.5× the better of")
    assert "fails on 1 (m)" in answer_paragraph(failing, MARGIN)


def test_a_model_without_the_claiming_attack_is_not_counted() -> None:
    both = _frame([64, 64, 64], [64, 64, 64], 64)
    alone = _frame([], [10, 11, 12], 1000).assign(model="n", scale="1k")
    rows = answer_rows(pd.concat([both, alone]), MARGIN, {})
    assert [r.model for r in rows] == ["m", "n"] and rows[1].margin is None
    assert answer_frame(rows, MARGIN).iloc[1][margin_column(MARGIN)] == "no current side runs"
    assert "Of 1 model:" in answer_paragraph(rows, MARGIN)


def test_each_question_names_the_variant_and_the_metric() -> None:
    df = _frame([5, 6, 4], [1, 1, 1], 1000)
    df.loc[df["attack"] == "side", "hits_high"] = [
        frozenset(range(10, 15)),
        frozenset(range(20, 26)),
        frozenset(range(30, 34)),
    ]
    rows = answer_rows(df, ONE_BASELINE, {})
    assert rows[0].new.test.verdict is Verdict.HOLDS  # 5, 6, 4 new against a turnover of 0
    lines = first_screen(rows, [], ONE_BASELINE, "cpu")
    assert lines[0].startswith("Judged: side (card v")  # the SIDE variant
    assert "distinct members in the high band of pixel ℓ2 less chance" in lines[0]  # the metric
    assert "α = 0.05" in lines[0]
    questions = [x for x in lines if x.startswith("- ")]
    assert (
        questions[0].startswith("- **Does side find members carlini misses")
        and "** Yes." in questions[0]
    )
    assert questions[1].startswith("- **The paper's margin")


def test_the_largest_budget_is_one_every_attack_in_the_claim_reached() -> None:
    short = _frame([3, 3], [2, 1], 100)
    long = pd.concat([short, short.assign(budget=5120), short.assign(budget=2048)])
    long = long[~((long["attack"] == "carlini") & (long["budget"] == 5120))]
    picked = largest_budget(long, ONE_BASELINE, shared=512)
    assert set(picked["budget"]) == {2048}  # carlini stops at 2,048, so the claim is read there
    assert largest_budget(short, ONE_BASELINE, shared=512).empty  # nothing beyond the shared N_G


def test_equal_compute_says_what_it_matched_and_never_wins_on_less() -> None:
    shipped = _frame([17, 18, 17], [], 5000).assign(evals=556_800)
    cheap = _frame([], [9, 12, 10], 5000).assign(evals=102_400, budget=2048)
    costly = cheap.assign(evals=1_000_000, budget=8192)  # beyond side's compute: never read
    (row,) = equal_compute(shipped, pd.concat([cheap, costly]), ONE_BASELINE)
    (matched,) = row.matched
    assert matched.budget == 2048 and abs(matched.ratio - 102_400 / 556_800) < 1e-12
    # Side leads clearly, but carlini was read at 18% of its evaluations: not a win.
    assert matched.test.verdict is Verdict.UNMATCHED and "18%" in matched.test.reason
    losing = _frame([5, 6, 5], [], 5000).assign(evals=556_800)
    (row,) = equal_compute(losing, cheap, ONE_BASELINE)
    assert row.matched[0].test.verdict is Verdict.FAILS  # more members with less compute


def test_an_undecided_order_without_power_says_so_and_a_decided_one_stands() -> None:
    # Side − carlini per seed: −2, 0, −1 (mean −1, SE 0.58, t −1.73, p 0.11): undecided, and the
    # margin could not have been shown (1.5 × 64 exceeds the 64 members): no power.
    close = _frame([62, 64, 63], [64, 64, 64], 64)
    row = ordering_table(close, ["side", "carlini"], ("high",), ONE_BASELINE).iloc[0]
    assert row["paper's order holds"] == "undecided (no power)"
    assert "exceeds the 64 members" in row["1.5× claim: power"]
    # −4, −3, −2 (SE 0.58, t −5.2, p 0.018): a reversal the test confirms stays "fails", whatever
    # the margin's power: the order is its own claim, with its own test.
    below = _frame([60, 61, 62], [64, 64, 64], 64)
    row = ordering_table(below, ["side", "carlini"], ("high",), ONE_BASELINE).iloc[0]
    assert row["paper's order holds"] == "fails"


def test_a_claim_is_judged_in_sscd_where_the_records_were_scored_in_it() -> None:
    """The same tests read SSCD's high band (``in_sscd``), which can reverse the ℓ2 answer; the
    profile is answered in SSCD first, then in ℓ2, each heading naming its similarity."""
    from bench.report.frame import in_sscd
    from bench.report.leaderboard import _profile_answers

    df = _frame([5, 6, 4], [1, 1, 1], 1000)
    df["sscd_distinct_high"] = [1, 0, 1, 9, 8, 9]  # in SSCD carlini leads
    df["sscd_chance_high"] = 0.0
    df["sscd_hits_high"] = [frozenset(range(n)) for n in df["sscd_distinct_high"]]
    sscd = in_sscd(df)
    assert sscd["distinct_high"].tolist() == [1, 0, 1, 9, 8, 9]
    (row,) = answer_rows(sscd, ONE_BASELINE, {})
    assert row.margin.test.verdict is Verdict.FAILS

    unscored = df.assign(sscd_distinct_high=float("nan"), stale="", shipped=True, info=[{}] * 6)
    assert in_sscd(unscored).empty
    screen, _ = _profile_answers(unscored, pd.DataFrame(), "cpu", "")
    assert not any("SSCD" in line for line in screen)
