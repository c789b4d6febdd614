"""Budget curves fitted, and the N_G each attack needs for 1 and 10 distinct members.

The form is SIDE's own: ``E[N_umem](N) = Σ_i [1 − (1 − p_i)^N]``, the expected number of distinct
members among N independent generations when one generation copies member i with probability
p_i. With a single shared p it saturates far too abruptly for a real model, where a few members
are copied often and most rarely, so the suite lets p_i vary: M members with p_i drawn from a
Gamma(k, θ) distribution (and (1 − p)^N ≈ e^{−pN} for small p) give the closed form

    E[N](N) = M · [1 − (1 + θ·N)^(−k)],

three parameters: the reachable members M, the scale θ and the shape k (k → ∞ at fixed k·θ is the
single-p curve M(1 − e^{−pN}); small k is a long tail of rarely copied members). Suite's choice:
this form, fitted by least squares on a fixed grid of (θ, k) with M solved exactly for each and
held to [0, members], so the fit is deterministic, needs no optimiser, and cannot claim more
members than the model has. It is fitted per seed; the N_G for a target is read off each seed's
fit, and reported as the median with the seeds' range. A reading outside the measured budgets
(below the smallest or above the largest) is an extrapolation and is marked so; beyond
``EXTRAPOLATE`` × the largest, or above the fitted M, it is reported as not reached rather than as
a number the data cannot support.

A fit whose θ or k sits on an edge of its grid has found a bound, not an optimum, and a curve
that has not bent by the largest budget (under half its M) trades M against θ: in both cases the
parameters are not identified by the data. (M held at the member count is not such a case: a
saturated model's M is its member count.) Inside the measured budgets the fit still interpolates
the points it passes through, but read outside them it would print the grid's choice as if it
were the data's, so such a reading, and such a fit's parameters, are reported as "not identified"
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.cards import scale_order
from bench.report import columns as C

THETAS = np.logspace(-7, 0, 141)
SHAPES = np.logspace(-1.5, 2, 36)
TARGETS = (1, 10)
EXTRAPOLATE = 10  # read a target off the fit at most this many times the largest measured N_G


@dataclass(frozen=True)
class CurveFit:
    """``members · [1 − (1 + theta · N)^(−shape)]``, with its residual on the fitted points."""

    members: float
    theta: float
    shape: float
    rmse: float

    largest: float = float("inf")  # the largest budget fitted

    @property
    def rising(self) -> bool:
        """Whether the curve is still under half its M at the largest budget: it has not bent,
        so M and θ trade off against each other and only the slope there is measured."""
        return bool(self.at(self.largest) < self.members / 2)

    @property
    def unidentified(self) -> str:
        """Why the parameters are not identified ('' when they are): θ or k on its grid's
        edge, or a curve that has not bent by the largest budget (M not identified). M held at
        the member count is not among them: a saturated model's M is its member count."""
        edges = [
            f"{name} at its grid's edge ({value:.2g})"
            for name, value, grid in (("θ", self.theta, THETAS), ("k", self.shape, SHAPES))
            if value in (grid[0], grid[-1])
        ]
        if self.rising:
            edges.append(f"M not identified (still rising at N_G {self.largest:,.0f})")
        return ", ".join(edges)

    def at(self, n: np.ndarray | float) -> np.ndarray:
        return self.members * (1.0 - (1.0 + self.theta * np.asarray(n, dtype=float)) ** -self.shape)

    def budget_for(self, target: float) -> float:
        """The N_G at which the fit reaches ``target`` distinct members (inf if it never does)."""
        if target >= self.members or self.members <= 0:
            return float("inf")
        return float(((1.0 - target / self.members) ** (-1.0 / self.shape) - 1.0) / self.theta)


def fit_curve(budgets: np.ndarray, distinct: np.ndarray, ceiling: int) -> CurveFit | None:
    """The least-squares fit over the grid; None when no budget found a member (nothing to fit)."""
    n = np.asarray(budgets, dtype=float)
    y = np.asarray(distinct, dtype=float)
    if len(n) == 0 or not np.any(y > 0):
        return None
    # f[θ, k, j] = 1 − (1 + θ n_j)^(−k); for each (θ, k) the best M is a 1-D least squares.
    f = 1.0 - (1.0 + THETAS[:, None, None] * n[None, None, :]) ** -SHAPES[None, :, None]
    m = np.clip((f * y).sum(-1) / np.maximum((f * f).sum(-1), 1e-300), 0.0, float(ceiling))
    sse = ((m[..., None] * f - y) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    return CurveFit(
        float(m[i, j]),
        float(THETAS[i]),
        float(SHAPES[j]),
        float(np.sqrt(sse[i, j] / len(n))),
        float(n.max()),
    )


def _describe(fit: CurveFit | None, largest: int) -> str:
    """The fit in words. Where the curve has not bent by the largest budget (under half of M),
    M and θ trade off against each other; what the data does measure is the slope there."""
    if fit is None:
        return "no members found"
    if fit.rising:
        rate = fit.members * fit.theta * fit.shape * (1 + fit.theta * largest) ** -(fit.shape + 1)
        return (
            f"still rising at N_G {largest:,}: {1000 * rate:.2g} members per 1,000 more "
            f"generations, M not identified (rmse {fit.rmse:.2f})"
        )
    if fit.unidentified:
        return f"not identified: {fit.unidentified} (rmse {fit.rmse:.2f})"
    return f"M {fit.members:.1f}, θ {fit.theta:.2g}, k {fit.shape:.2g} (rmse {fit.rmse:.2f})"


def _reading(fits: list[CurveFit | None], target: float, smallest: int, largest: int) -> str:
    """Median N_G over seeds' fits with the seeds' range; marked when it is read outside the
    measured budgets, and withheld where it would be read off a fit that is not identified."""
    values = [float("inf") if f is None else f.budget_for(target) for f in fits]
    finite = [v for v in values if np.isfinite(v) and v <= EXTRAPOLATE * largest]
    if len(finite) < len(values) or not values:
        reached = f"{len(finite)}/{len(values)} seeds" if finite else "no seed"
        return f"not reached ({reached} within {EXTRAPOLATE * largest:,})"
    outside = [
        f.unidentified
        for f, v in zip(fits, values)
        if f is not None and f.unidentified and not smallest <= v <= largest
    ]
    if outside:
        return f"not identified ({len(outside)}/{len(values)} seeds: {outside[0]})"
    med, lo, hi = np.median(finite), min(finite), max(finite)
    text = f"{med:,.0f} [{lo:,.0f}, {hi:,.0f}]"
    return f"{text} (extrapolated)" if hi > largest or lo < smallest else text


def fit_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per model × attack: the fitted curve (on the seed mean, for the reader) and the N_G each
    target needs, from each seed's own fit."""
    rows = []
    ordered = curves.assign(_s=curves[C.SCALE].map(scale_order)).sort_values(
        ["_s", C.MODEL, C.ATTACK], kind="stable"
    )
    for (model, attack), g in ordered.groupby([C.MODEL, C.ATTACK], sort=False):
        ceiling = int(g[C.MEMBERS].iloc[0])
        largest = int(g[C.BUDGET].max())
        mean = g.groupby(C.BUDGET)[C.DISTINCT_HIGH].mean()
        overall = fit_curve(mean.index.to_numpy(), mean.to_numpy(), ceiling)
        row = {
            "model": model,
            "attack": attack,
            "budgets": f"{int(g[C.BUDGET].min()):,}–{largest:,}",
            "seeds": g[C.SEED].nunique(),
            "fit M [1 − (1 + θN)^−k]": _describe(overall, largest),
        }
        per_seed = [
            fit_curve(s[C.BUDGET].to_numpy(), s[C.DISTINCT_HIGH].to_numpy(), ceiling)
            for _, s in g.groupby(C.SEED)
        ]
        smallest = int(g[C.BUDGET].min())
        for target in TARGETS:
            label = f"N_G for {target} member{'s' if target > 1 else ''}"
            row[label] = _reading(per_seed, target, smallest, largest)
        rows.append(row)
    return pd.DataFrame(rows)
