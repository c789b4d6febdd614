"""The CI floor rule: mean − 3σ over seeds, never tighter than one output, never below zero."""

from __future__ import annotations

import pytest

from bench.floors import summarise


def test_floor_is_three_sigmas_below_the_mean() -> None:
    s = summarise([0.30, 0.40, 0.50], "ums.high", budget=128)
    assert s["std"] == pytest.approx(0.1)
    assert s["floor"] == pytest.approx(0.4 - 0.3)


def test_identical_seeds_still_leave_one_output_of_margin() -> None:
    s = summarise([1.0, 1.0, 1.0], "ams.high", budget=128)
    assert s["floor"] == pytest.approx(1.0 - 1 / 128)


def test_counts_keep_one_member_of_margin_and_stay_non_negative() -> None:
    assert summarise([5.0, 5.0, 5.0], "extracted.0.05", budget=128)["floor"] == 4.0
    assert summarise([0.0, 0.0, 0.0], "extracted.0.05", budget=128)["floor"] == 0.0
