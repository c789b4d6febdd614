"""Efficiency curves: distinct members extracted against N_G and against model evaluations.

This is the comparison SIDE's E[N_umem] argument is about: at a budget where a small model is
saturated every attack ties, so attacks are told apart by how fast they get there, and by what
each member costs once preparation (SIDE's synthetic set and classifier) is counted.
"""

from __future__ import annotations

import pandas as pd

from bench.cards import scale_order
from bench.report import columns as C
from bench.report.tables import pm

CURVE_METRICS = {C.DISTINCT_HIGH: "high band", C.extracted("0.05"): "δ = 0.05"}


def curve_table(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    current = df[df[C.STALE] == ""]
    ordered = current.assign(_s=current[C.SCALE].map(scale_order)).sort_values(
        ["_s", C.MODEL, C.ATTACK, C.BUDGET], kind="stable"
    )
    for (model, attack, _params, budget), g in ordered.groupby(
        [C.MODEL, C.ATTACK, C.PARAMS, C.BUDGET], sort=False
    ):
        row = {"model": model, "attack": attack, "N_G": budget, "seeds": len(g)}
        for col, label in CURVE_METRICS.items():
            row[f"distinct members, {label}"] = pm(g[col], 1.0, 1)
        row["model evaluations (UNet + clf)"] = f"{int(g[C.EVALS].mean()):,}"
        row["evaluations per member (high band)"] = (
            f"{g[C.EVALS].mean() / g[C.DISTINCT_HIGH].mean():,.0f}"
            if g[C.DISTINCT_HIGH].mean() > 0
            else "-"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def curve_pivot(df: pd.DataFrame) -> pd.DataFrame:
    """Distinct high-band members, one row per model × attack and one column per N_G.

    The long table above gives every statistic; this one is read across, so an attack's growth
    with budget, and where another attack overtakes it, shows on one line. Current records with
    the card's defaults only; each cell is the mean ± sd over its seeds ('-' where that budget
    did not run) and, in brackets, chance: the same outputs' hit rate on non-members scaled to
    the member set, so a count that only chance explains reads as one. ``seeds`` gives the
    fewest seeds behind any of the row's cells.
    """
    current = df[(df[C.STALE] == "") & df[C.DEFAULTS]]
    if current.empty:
        return pd.DataFrame()
    budgets = sorted(int(b) for b in current[C.BUDGET].unique())
    rows = []
    for model in model_order(current):
        of_model = current[current[C.MODEL] == model]
        for attack, g in of_model.groupby(C.ATTACK, sort=True):
            by_budget = {int(b): seeds for b, seeds in g.groupby(C.BUDGET)}
            row = {"model": model, "attack": attack}
            row["seeds"] = min(len(seeds) for seeds in by_budget.values())
            for b in budgets:
                row[f"{b:,}"] = _with_chance(by_budget[b]) if b in by_budget else "-"
            rows.append(row)
    return pd.DataFrame(rows)


def _with_chance(seeds: pd.DataFrame) -> str:
    return f"{pm(seeds[C.DISTINCT_HIGH], 1.0, 1)} ({seeds[C.CHANCE_HIGH].mean():.1f})"


def model_order(df: pd.DataFrame) -> list[str]:
    """Models by member-set size (64 before 1k, which text order reverses), then by name."""
    scales = df.groupby(C.MODEL)[C.SCALE].first()
    return sorted(scales.index, key=lambda m: (scale_order(scales[m]), m))


def short_name(model: str) -> str:
    """A model's name without the parts every zoo label shares, for axis labels."""
    return model.removeprefix("celeba-").removesuffix("-cpu")
