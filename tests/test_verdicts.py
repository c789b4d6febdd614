"""The claim tests, checked against numbers worked by hand.

With two degrees of freedom Student's t has a closed form, P(T > t) = ½·(1 − t / √(t² + 2)), so
the three-seed cases below are computed without a t table. A property test then holds the one
rule a reader relies on: a verdict reads "fails" only when the test rejects the claim.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.report.verdicts import (
    ALPHA,
    POWER_GOAL,
    Verdict,
    contrast,
    judge_margin,
    judge_new,
    rank,
)


def seeds(*values: float) -> dict[int, float]:
    return dict(enumerate(values))


def sf_df2(t: float) -> float:
    """P(T > t) for Student t with two degrees of freedom."""
    return 0.5 * (1 - t / math.sqrt(t * t + 2))


def test_the_contrast_carries_the_factor_in_its_standard_error() -> None:
    # Unpaired: var(A) = 100, var(B) = 36; the claim's contrast A − 1.5·B has
    # SE² = 100/3 + 2.25·36/3 = 60.33, not the 100/3 + 36/3 = 45.33 of A − B.
    a, b = seeds(20, 30, 40), seeds(10, 16, 22)
    c = contrast(a, b, 1.5, paired=False)
    assert c.mean == pytest.approx(30 - 1.5 * 16)
    assert c.se == pytest.approx(math.sqrt(100 / 3 + 81 / 3))
    # Welch–Satterthwaite: (33.33 + 27)² / (33.33² / 2 + 27² / 2) = 3.96
    assert c.df == pytest.approx((100 / 3 + 27) ** 2 / ((100 / 3) ** 2 / 2 + 27**2 / 2))


def test_pairing_by_seed_decides_what_unpaired_seeds_cannot() -> None:
    """Side and carlini at one seed start from the same noise, so a good seed is good for both:
    per seed, side − 1.5·carlini is 5, 6, 7 (mean 6, sd 1, SE 0.577, t 10.39 on 2 df), a clear
    hold; unpaired, the seeds' spread (sd 10 and 6) hides it (t 0.77, p ≈ 0.24)."""
    a, b = seeds(20, 30, 40), seeds(10, 16, 22)
    paired = judge_margin(a, {"carlini": b}, 1.5, 1000, paired=True).test
    t = 6 / (1 / math.sqrt(3))
    assert paired.verdict is Verdict.HOLDS
    assert paired.p_holds == pytest.approx(sf_df2(t))  # 0.0046
    assert paired.df == 2 and paired.paired
    unpaired = judge_margin(a, {"carlini": b}, 1.5, 1000, paired=False).test
    assert unpaired.verdict is not Verdict.HOLDS and unpaired.p_holds > 0.2


def test_a_hand_computed_failure_and_its_power() -> None:
    # side 10, 11, 10 against carlini 20, 21, 20: contrast −20, −20.5, −20 (mean −20.17,
    # sd 0.289, SE 0.167): t = −121, p(fails) = P(T > 121) on 2 df.
    test = judge_margin(seeds(10, 11, 10), {"carlini": seeds(20, 21, 20)}, 1.5, 1000).test
    assert test.verdict is Verdict.FAILS
    assert test.estimate == pytest.approx(-121 / 6)
    se = math.sqrt(1 / 12 / 3)
    assert test.p_fails == pytest.approx(sf_df2(121 / 6 / se))
    assert test.power > POWER_GOAL  # the claimed effect, 0.5 × 20.3 = 10.2, is 60 SE


def test_fails_is_bonferroni_corrected_over_the_baselines() -> None:
    side = seeds(10, 12, 14)
    one = judge_margin(side, {"carlini": seeds(9, 10, 11)}, 1.5, 1000).test
    two = judge_margin(
        side, {"carlini": seeds(9, 10, 11), "side-ti": seeds(1, 1, 1)}, 1.5, 1000
    ).test
    assert two.p_fails == pytest.approx(min(1.0, 2 * one.p_fails))


def test_holds_needs_every_baseline() -> None:
    # Against side-ti (20, 21, 23) the contrast is 0, 1.5, 1.5: mean 1, SE 0.5, t 2, p 0.092.
    side = seeds(30, 33, 36)
    bases = {"carlini": seeds(10, 11, 12), "side-ti": seeds(20, 21, 23)}
    check = judge_margin(side, bases, 1.5, 500)
    assert check.bar == "side-ti" and check.test.p_holds == pytest.approx(sf_df2(2.0))
    alone = judge_margin(side, {"carlini": seeds(10, 11, 12)}, 1.5, 500).test
    assert alone.verdict is Verdict.HOLDS and check.test.verdict is not Verdict.HOLDS


def test_no_power_says_how_many_seeds_would_decide() -> None:
    # Noisy seeds: contrast 5, −15, 25 (SE ≈ 11.5) against an effect of 0.5 × 10 = 5.
    test = judge_margin(seeds(20, 10, 40), {"carlini": seeds(10, 16, 10)}, 1.5, 1000).test
    assert test.verdict is Verdict.NO_POWER and test.power < POWER_GOAL
    assert test.seeds_needed is not None and test.seeds_needed > 3
    assert f"{test.seeds_needed} seeds would reach power" in test.reason


def test_the_model_ceiling_and_one_seed_are_no_power() -> None:
    full = judge_margin(seeds(64, 64, 64), {"carlini": seeds(64, 64, 64)}, 1.5, 64).test
    assert full.verdict is Verdict.NO_POWER and "exceeds the 64 members" in full.reason
    one = judge_margin(seeds(5), {"carlini": seeds(3)}, 1.5, 1000).test
    assert one.verdict is Verdict.NO_POWER


def test_ties_are_ties_and_the_winner_needs_a_test() -> None:
    tied = rank({"carlini": seeds(12, 13, 13), "side": seeds(13, 12, 13)})
    assert tied.winner is None
    assert tied.text({"carlini": "carlini", "side": "side"}) == "carlini = side"
    # 5, 6, 7 against 1, 2, 3: paired differences all 4, SE 0 — a sure winner.
    clear = rank({"a": seeds(5, 6, 7), "b": seeds(1, 2, 3)})
    assert clear.winner == "a" and clear.test.p_holds == 0.0
    # Top by 1 with paired differences 3, −2, 2 (SE 1.53, t 0.65, p ≈ 0.29): no winner.
    close = rank({"a": seeds(5, 2, 5), "b": seeds(2, 4, 3)})
    t = 1 / (math.sqrt(7) / math.sqrt(3))
    assert close.winner is None and close.test.p_holds == pytest.approx(sf_df2(t))


def test_new_members_are_tested_against_the_reference_turnover() -> None:
    # New 5, 6, 4 against turnover 1, 1, 2: differences 4, 5, 2 (mean 3.67, sd 1.53).
    test = judge_new(seeds(5, 6, 4), seeds(1, 1, 2))
    se = 1.5275 / math.sqrt(3)
    assert test.verdict is Verdict.HOLDS
    assert test.p_holds == pytest.approx(sf_df2((11 / 3) / se), rel=1e-3)
    same = judge_new(seeds(1, 2, 1), seeds(1, 1, 2))
    assert not same.verdict.decided


counts = st.lists(st.integers(0, 200), min_size=2, max_size=6)


@settings(max_examples=300, deadline=None)
@given(a=counts, b=counts, paired=st.booleans(), factor=st.sampled_from([1.0, 1.5, 2.0]))
def test_fails_only_when_the_test_rejects(a, b, paired, factor) -> None:
    """Whatever the counts, "fails" is never printed unless its p is below α, and "holds" never
    unless its own p is; an undecided cell names its power."""
    check = judge_margin(seeds(*a), {"base": seeds(*b)}, factor, 10_000, paired).test
    if check.verdict is Verdict.FAILS:
        assert check.p_fails < ALPHA
    if check.verdict is Verdict.HOLDS:
        assert check.p_holds < ALPHA
    if check.verdict is Verdict.NO_POWER and not math.isnan(check.p_holds):
        assert check.power < POWER_GOAL
    if check.verdict is Verdict.NOISE:
        assert check.power >= POWER_GOAL and check.p_fails >= ALPHA and check.p_holds >= ALPHA
