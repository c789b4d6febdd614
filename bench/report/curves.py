"""Efficiency curves: distinct members extracted against N_G and against model evaluations.

This is the comparison SIDE's E[N_umem] argument is about: at a budget where a small model is
saturated every attack ties, so attacks are told apart by how fast they get there, and by what
each member costs once preparation (SIDE's synthetic set and classifier) is counted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.cards import scale_order
from bench.report.answer import chance_members
from bench.report.tables import pm
from bench.utils.atomic import write_atomic

# Plots are sized for a page: 13 × ~4.5 inches at 100 dpi is 1300 px wide, what a README or
# GitHub page shows without scaling text below legibility.
PLOT_SIZE = (13.0, 4.6)
PLOT_DPI = 100
CURVE_COLUMNS = 3  # models per row of the curves figure (two panels each)
CURVE_METRICS = {"distinct_high": "high band", "extracted_0.05": "δ = 0.05"}


def curve_table(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    current = df[df["stale"] == ""]
    ordered = current.assign(_s=current["scale"].map(scale_order)).sort_values(
        ["_s", "model", "attack", "budget"], kind="stable"
    )
    for (model, attack, _params, budget), g in ordered.groupby(
        ["model", "attack", "params", "budget"], sort=False
    ):
        row = {"model": model, "attack": attack, "N_G": budget, "seeds": len(g)}
        for col, label in CURVE_METRICS.items():
            row[f"distinct members, {label}"] = pm(g[col], 1.0, 1)
        row["model evaluations (UNet + clf)"] = f"{int(g['evals'].mean()):,}"
        row["evaluations per member (high band)"] = (
            f"{g['evals'].mean() / g['distinct_high'].mean():,.0f}"
            if g["distinct_high"].mean() > 0
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
    current = df[(df["stale"] == "") & df["defaults"]]
    if current.empty:
        return pd.DataFrame()
    budgets = sorted(int(b) for b in current["budget"].unique())
    rows = []
    for model in model_order(current):
        of_model = current[current["model"] == model]
        for attack, g in of_model.groupby("attack", sort=True):
            by_budget = {int(b): seeds for b, seeds in g.groupby("budget")}
            row = {"model": model, "attack": attack}
            row["seeds"] = min(len(seeds) for seeds in by_budget.values())
            for b in budgets:
                row[f"{b:,}"] = _with_chance(by_budget[b]) if b in by_budget else "-"
            rows.append(row)
    return pd.DataFrame(rows)


def _with_chance(seeds: pd.DataFrame) -> str:
    return f"{pm(seeds['distinct_high'], 1.0, 1)} ({chance_members(seeds):.1f})"


def model_order(df: pd.DataFrame) -> list[str]:
    """Models by member-set size (64 before 1k, which text order reverses), then by name."""
    scales = df.groupby("model")["scale"].first()
    return sorted(scales.index, key=lambda m: (scale_order(scales[m]), m))


def short_name(model: str) -> str:
    """A model's name without the parts every zoo label shares, for axis labels."""
    return model.removeprefix("celeba-").removesuffix("-cpu")


def plot_curves(df: pd.DataFrame, path: Path) -> None:
    """Distinct high-band members against N_G (left of each pair) and evaluations (right), ±1 sd
    over seeds; models in scale order, wrapped into rows so the figure fits a page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import NullFormatter

    current = df[df["stale"] == ""]
    models = model_order(current)
    attacks = sorted(current["attack"].unique())
    palette = dict(zip(attacks, sns.color_palette(n_colors=len(attacks))))  # same colour per panel
    cols = min(CURVE_COLUMNS, len(models))
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(
        rows, 2 * cols, figsize=(PLOT_SIZE[0], 2.6 * rows + 0.6), squeeze=False
    )
    for ax in axes.flat[2 * len(models) :]:
        ax.set_visible(False)
    for j, model in enumerate(models):
        part = current[current["model"] == model]
        for i, x in enumerate(("budget", "evals")):
            ax = axes[j // cols][2 * (j % cols) + i]
            sns.lineplot(
                part,
                x=x,
                y="distinct_high",
                hue="attack",
                hue_order=[a for a in attacks if a in set(part["attack"])],
                palette=palette,
                errorbar="sd",
                marker="o",
                ax=ax,
                legend=False,
            )
            ax.set_xscale("log", base=2 if x == "budget" else 10)
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overprint the major
            ax.set_xlabel("N_G" if x == "budget" else "evaluations", fontsize=8)
            ax.set_ylabel("distinct members (high)" if j % cols == 0 and i == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_title(short_name(model) if i == 0 else "", fontsize=9, loc="left")
    handles = [plt.Line2D([], [], color=palette[a], marker="o") for a in attacks]
    fig.legend(handles, attacks, loc="upper center", ncol=len(attacks), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (2.6 * rows + 0.6)))
    write_atomic(path, lambda p: fig.savefig(p, dpi=PLOT_DPI, format="png"))
    plt.close(fig)
