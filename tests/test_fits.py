"""The budget-curve fit: it recovers the budget a known process needs, never claims more members
than the model has, and refuses to read a target off a curve that cannot support it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.fits import CurveFit, fit_curve, fit_table

BUDGETS = np.array([32, 64, 128, 256, 512, 1024, 2048, 5120])


def _simulate(rates: np.ndarray, seed: int) -> np.ndarray:
    """Distinct members among the first N of 5,120 generations, each copying member i with
    probability rates[i] (at most one member per generation, as a nearest-neighbour match)."""
    rng = np.random.default_rng(seed)
    p_none = 1.0 - rates.sum()
    draws = rng.choice(len(rates) + 1, size=BUDGETS[-1], p=np.append(rates, p_none))
    seen = np.zeros(len(rates) + 1, dtype=bool)
    counts, start = [], 0
    for n in BUDGETS:
        seen[draws[start:n]] = True
        start = n
        counts.append(int(seen[:-1].sum()))
    return np.array(counts)


def _true_budget(rates: np.ndarray, target: float) -> int:
    n = np.arange(1, 200_000)
    expected = (1.0 - (1.0 - rates[None, :]) ** n[:, None]).sum(1)
    return int(n[np.argmax(expected >= target)])


def test_the_fit_recovers_the_budget_a_heterogeneous_process_needs() -> None:
    rates = np.random.default_rng(0).gamma(0.6, 1.5e-4, size=400)  # a long tail of rare copies
    truth = _true_budget(rates, 10)
    fits = [fit_curve(BUDGETS, _simulate(rates, s), ceiling=400) for s in range(5)]
    needs = [f.budget_for(10) for f in fits if f is not None]
    assert len(needs) == 5
    assert 0.6 * truth < np.median(needs) < 1.6 * truth, (truth, needs)


def test_the_fit_never_claims_more_members_than_the_model_has() -> None:
    rising = BUDGETS / 40.0  # a straight line through 128 members at 5,120
    fit = fit_curve(BUDGETS, rising, ceiling=20)
    assert fit is not None and fit.members <= 20
    assert fit.budget_for(20) == float("inf")  # the ceiling itself is never reached


def test_nothing_found_is_no_fit_and_reads_not_reached() -> None:
    assert fit_curve(BUDGETS, np.zeros(len(BUDGETS)), ceiling=5000) is None
    rows = [
        {
            "scale": "5k",
            "model": "m",
            "attack": a,
            "seed": s,
            "budget": int(n),
            "members": 5000,
            "distinct_high": 0 if a == "none" else min(int(n) // 256, 30),
        }
        for a in ("none", "some")
        for s in range(3)
        for n in BUDGETS
    ]
    table = fit_table(pd.DataFrame(rows)).set_index("attack")
    assert table.loc["none", "fit M [1 − (1 + θN)^−k]"] == "no members found"
    assert table.loc["none", "N_G for 1 member"].startswith("not reached (no seed")
    assert not table.loc["some", "N_G for 10 members"].startswith("not reached")


def test_a_target_past_the_measured_budgets_is_marked_extrapolated() -> None:
    # Bent by 512 (9.2 of M = 11), so identified; 10 members need N = 1,000 > 512.
    fit = CurveFit(members=11.0, theta=1e-2, shape=1.0, rmse=0.0)
    assert abs(fit.at(fit.budget_for(10)) - 10) < 1e-9  # budget_for inverts at()
    rows = [
        {
            "scale": "1k",
            "model": "m",
            "attack": "a",
            "seed": s,
            "budget": int(n),
            "members": 1000,
            "distinct_high": float(fit.at(n)),
        }
        for s in range(3)
        for n in BUDGETS[BUDGETS <= 512]
    ]
    reading = fit_table(pd.DataFrame(rows))["N_G for 10 members"].iloc[0]
    assert reading.endswith("(extrapolated)") and reading.startswith("1,000 ")


def _rows(fit: CurveFit, budgets: np.ndarray, members: int = 1000) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "scale": "1k",
                "model": "m",
                "attack": "a",
                "seed": s,
                "budget": int(n),
                "members": members,
                "distinct_high": float(fit.at(n)),
            }
            for s in range(3)
            for n in budgets
        ]
    )


def test_a_reading_below_the_smallest_budget_is_marked_extrapolated() -> None:
    fit = CurveFit(members=200.0, theta=1e-3, shape=1.0, rmse=0.0)  # 1 member at N ≈ 5
    table = fit_table(_rows(fit, BUDGETS[BUDGETS >= 64]))
    assert fit.budget_for(1) < 64
    assert table["N_G for 1 member"].iloc[0].endswith("(extrapolated)")


def test_a_fit_on_its_grids_edge_is_not_identified() -> None:
    line = BUDGETS[BUDGETS <= 512] / 32.0  # a straight line: k runs to its grid's edge
    fit = fit_curve(BUDGETS[BUDGETS <= 512], line, ceiling=1000)
    assert fit is not None and "k at its grid's edge" in fit.unidentified
    assert "M not identified" in fit.unidentified  # and it has not bent: M trades with θ
    rows = _rows(CurveFit(1.0, 1.0, 1.0, 0.0), BUDGETS[BUDGETS <= 512]).assign(
        distinct_high=np.tile(line, 3)
    )
    table = fit_table(rows)
    assert table["fit M [1 − (1 + θN)^−k]"].iloc[0].startswith("still rising at N_G 512")
    assert table["N_G for 10 members"].iloc[0] not in ("", "-")
    # 10 members lie inside the measured budgets (320 < 512): the fit interpolates them.
    assert not table["N_G for 10 members"].iloc[0].startswith("not identified")
    slow = rows.assign(distinct_high=rows["distinct_high"] / 10)  # 10 members only past 512
    assert fit_table(slow)["N_G for 10 members"].iloc[0].startswith("not identified (3/3 seeds")


def test_a_single_rate_curve_puts_k_on_its_edge_and_shows_no_parameters() -> None:
    """One shared copy rate is the k → ∞ limit: the grid's largest k is a bound, not an
    estimate, so the fit column names the edge instead of printing k = 100 as a finding."""
    single = 20 * (1 - np.exp(-BUDGETS / 100))
    rows = _rows(CurveFit(1.0, 1.0, 1.0, 0.0), BUDGETS).assign(distinct_high=np.tile(single, 3))
    fit = fit_table(rows)["fit M [1 − (1 + θN)^−k]"].iloc[0]
    assert fit.startswith("not identified: k at its grid's edge (1e+02)")
