"""The leaderboard's figures: UMS by band at the shared N_G, and the budget curves.

Drawn with seaborn (the design card's plotting package): it aggregates the seeds of each model ×
attack itself, so the figures take the run frame as it is. Counts are drawn with their spread
over seeds but never below zero (a count cannot be negative, and a bar whose interval dips under
the axis reads as a possible loss), and each attack's chance level (the same statistic against
non-members) is drawn beside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.metrics import BAND_NAMES
from bench.report import columns as C
from bench.report.curves import model_order, short_name
from bench.utils.atomic import write_atomic

# Plots are sized for a page: 13 × ~4.5 inches at 100 dpi is 1300 px wide, what a README or
# GitHub page shows without scaling text below legibility.
PLOT_SIZE = (13.0, 4.6)
PLOT_DPI = 100
CURVE_COLUMNS = 3  # models per row of the curves figure (two panels each)


def _spread(values: pd.Series) -> tuple[float, float, float]:
    """Mean and the (lower, upper) error bar lengths of ±1 sd over seeds, the lower one cut at
    zero: a count or a share cannot be negative."""
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return mean, min(sd, mean), sd


def _sd_above_zero(values: pd.Series) -> tuple[float, float]:
    """seaborn's interval for a set of seeds: ±1 sd around the mean, its floor cut at zero."""
    mean, low, high = _spread(values)
    return mean - low, mean + high


def _palette(attacks: list[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per attack, the same in every panel and both figures (tab10, red included,
    which is why chance is black)."""
    import seaborn as sns

    return dict(zip(attacks, sns.color_palette("tab10", len(attacks))))


def chance_ums(runs: pd.DataFrame, band: str) -> pd.Series:
    """UMS chance would give, scaled to the member set as the tables' chance is: the non-member
    hit rate × members / N_G (the raw non-member UMS is a share of a pool of another size)."""
    return runs[C.nm_hit(band)] * runs[C.MEMBERS] / runs[C.BUDGET]


# Black, thick and short: the attacks take tab10's colours (red too), the ceiling a dashed line.
CHANCE_STYLE = {"color": "black", "marker": "_", "markersize": 9, "mew": 3, "ls": "none"}


def plot(df: pd.DataFrame, path: Path) -> None:
    """UMS by band: one panel per band, models in scale order, one bar per attack (± sd over
    seeds, never below zero), each bar's chance level (its non-member hit rate scaled to the
    member set) as a black tick and each model's ceiling (members / N_G, UMS's maximum) as a
    dashed line, so a small model at its ceiling no longer looks weaker than a large one below
    its own."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    models = model_order(df)
    attacks = sorted(df[C.ATTACK].unique())
    colours = _palette(attacks)
    black = dict.fromkeys(attacks, "black")
    fig, axes = plt.subplots(1, len(BAND_NAMES), figsize=PLOT_SIZE, squeeze=False)
    for ax, band in zip(axes[0], BAND_NAMES):
        # The axis fits the bars; a ceiling far above them (a large model's 100 %) is written at
        # the top instead of squeezing every bar flat.
        means = df.groupby([C.MODEL, C.ATTACK])[C.ums(band)]
        top = 100 * max(float((means.mean() + means.std().fillna(0)).max()) * 1.3, 0.05)
        for j, model in enumerate(models):
            part = df[df[C.MODEL] == model]
            ceiling = 100 * min(1.0, part[C.MEMBERS].iloc[0] / part[C.BUDGET].iloc[0])
            if ceiling <= top:
                ax.hlines(ceiling, j - 0.45, j + 0.45, colors="black", linestyles="dashed", lw=1)
            else:
                ax.annotate(
                    f"{ceiling:.0f}%↑", (j, top), ha="center", va="top", fontsize=7, rotation=90
                )
        runs = df.assign(_ums=100 * df[C.ums(band)], _chance=100 * chance_ums(df, band))
        order = {"x": C.MODEL, "hue": C.ATTACK, "order": models, "hue_order": attacks, "ax": ax}
        sns.barplot(
            runs,
            y="_ums",
            palette=colours,
            errorbar=_sd_above_zero,
            saturation=1,  # the legend's colours, not a greyed copy
            capsize=0.3,
            err_kws={"linewidth": 1},
            legend=False,
            **order,
        )
        # One tick per bar, dodged as the bars are; a chance above the axis sits on its top.
        chance = runs.groupby([C.MODEL, C.ATTACK], as_index=False)["_chance"].mean()
        sns.stripplot(
            chance.assign(_chance=chance["_chance"].clip(upper=top)),
            y="_chance",
            palette=black,
            dodge=True,
            jitter=False,
            marker=CHANCE_STYLE["marker"],
            size=CHANCE_STYLE["markersize"],
            linewidth=CHANCE_STYLE["mew"],
            zorder=5,
            legend=False,
            **order,
        )
        ax.set_title(f"{band} band")
        ax.set_xticks(range(len(models)), [short_name(m) for m in models], rotation=45, ha="right")
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_ylim(0, top)
        ax.set(xlabel="", ylabel="")  # seaborn names the axes by the frame's columns
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("UMS (% of N_G)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[a]) for a in attacks]
    handles += [
        plt.Line2D([], [], color="black", ls="dashed", lw=1),
        plt.Line2D([], [], **CHANCE_STYLE),
    ]
    labels = [*attacks, "ceiling (members / N_G; n%↑ above the axis)", "chance (scaled to members)"]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    write_atomic(path, lambda p: fig.savefig(p, dpi=PLOT_DPI, format="png"))
    plt.close(fig)


def plot_curves(df: pd.DataFrame, path: Path) -> None:
    """Distinct high-band members against N_G (left of each pair) and evaluations (right), mean
    and ±1 sd over seeds (the band cut at zero), and each attack's chance (its non-member hit
    rate × the member set) as a dotted line of its colour; models in scale order, wrapped into
    rows so the figure fits a page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import NullFormatter

    current = df[df[C.STALE] == ""]
    models = model_order(current)
    attacks = sorted(current[C.ATTACK].unique())
    palette = _palette(attacks)
    cols = min(CURVE_COLUMNS, len(models))
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(
        rows, 2 * cols, figsize=(PLOT_SIZE[0], 2.6 * rows + 0.6), squeeze=False
    )
    for ax in axes.flat[2 * len(models) :]:
        ax.set_visible(False)
    for j, model in enumerate(models):
        part = current[current[C.MODEL] == model]
        for i, x in enumerate((C.BUDGET, C.EVALS)):
            ax = axes[j // cols][2 * (j % cols) + i]
            lines = {"x": x, "hue": C.ATTACK, "palette": palette, "legend": False, "ax": ax}
            sns.lineplot(
                part, y=C.DISTINCT_HIGH, errorbar=_sd_above_zero, marker="o", ms=3, **lines
            )
            sns.lineplot(part, y=C.CHANCE_HIGH, errorbar=None, ls=":", lw=1.5, **lines)
            ax.set_ylim(bottom=0)
            ax.set_xscale("log", base=2 if x == C.BUDGET else 10)
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overprint the major
            ax.set_xlabel("N_G" if x == C.BUDGET else "evaluations", fontsize=8)
            ax.set_ylabel("distinct members (high)" if j % cols == 0 and i == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_title(short_name(model) if i == 0 else "", fontsize=9, loc="left")
    handles = [plt.Line2D([], [], color=palette[a], marker="o") for a in attacks]
    handles.append(plt.Line2D([], [], color="0.3", ls=":", lw=1.5))
    labels = [*attacks, "chance (dotted, the attack's colour)"]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (2.6 * rows + 0.6)))
    write_atomic(path, lambda p: fig.savefig(p, dpi=PLOT_DPI, format="png"))
    plt.close(fig)
