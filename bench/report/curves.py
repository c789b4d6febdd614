"""Efficiency curves: distinct members extracted against N_G and against model evaluations.

This is the comparison SIDE's E[N_umem] argument is about: at a budget where a small model is
saturated every attack ties, so attacks are told apart by how fast they get there, and by what
each member costs once preparation (SIDE's synthetic set and classifier) is counted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.cards import scale_order
from bench.report.tables import pm
from bench.utils.atomic import write_atomic

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


def plot_curves(df: pd.DataFrame, path: Path) -> None:
    """Distinct high-band members against N_G (top) and evaluations (bottom), ±1 sd over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    current = df[df["stale"] == ""]
    models = sorted(current["model"].unique(), key=lambda m: (scale_order(m.split("-")[1]), m))
    attacks = sorted(current["attack"].unique())
    palette = dict(zip(attacks, sns.color_palette(n_colors=len(attacks))))  # same colour per panel
    fig, axes = plt.subplots(
        2, len(models), figsize=(4 * len(models), 7), squeeze=False, sharey="col"
    )
    for j, model in enumerate(models):
        part = current[current["model"] == model]
        for i, x in enumerate(("budget", "evals")):
            ax = axes[i][j]
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
                legend=(i == 0 and j == 0),
            )
            ax.set_xscale("log", base=2 if x == "budget" else 10)
            ax.set_xlabel("N_G (outputs)" if x == "budget" else "model evaluations")
            ax.set_ylabel("distinct members, high band" if j == 0 else "")
            ax.set_title(model if i == 0 else "")
    fig.tight_layout()
    write_atomic(path, lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)
