"""The leaderboard's first screen: does the attack with a margin claim extract what its
baselines miss, and could these runs have told?

A verdict is only worth its power. A cell where every attack finds every member (saturated), or
where no attack beats the non-member rate (nothing to find), cannot show a 50% gain, so a "no"
there would be a statement about the model, not the attack. Every verdict here therefore states
the smallest gap it could detect (two standard errors of the gap over seeds, the leaderboard's
noise line) and the gap the claim needs; where the second is inside the first, or the claim would
need more members than the model has, the verdict is "undecided (no power)", never "no".

The claim itself is data: an attack card's ``[claims.margin]`` (SIDE: "over 50% more effective",
judged on distinct high-band members at equal N_G against the better baseline). New members are
those an attack finds that the card's ``new_against`` attack misses on the same model, seed and
N_G: the two start from the same noise, so a member only one of them finds is one the other's
procedure missed, not one its seed never drew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.cards import scale_order
from bench.metrics.seednoise import NOISE_SE, gap_se, standard_error

# Two-sided 95% Student t quantiles by number of seeds (n − 1 degrees of freedom): with three
# seeds an interval is mean ± 4.30 SE, wide on purpose; a normal 1.96 would overstate certainty.
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}


@dataclass(frozen=True)
class MarginCheck:
    """One cell's test of "``attack`` ≥ factor × the better baseline"."""

    verdict: str  # yes | no | undecided (within seed noise) | undecided (no power: …)
    attack_mean: float
    baseline: str
    baseline_mean: float
    needed: float  # the gap the claim needs: (factor − 1) × baseline mean
    detectable: float  # the smallest gap these seeds detect: NOISE_SE standard errors

    @property
    def powered(self) -> bool:
        return not self.verdict.startswith("undecided (no power")


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and a two-sided 95% t interval over seeds (the mean twice for one seed)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, mean, mean
    half = T95.get(len(values), 1.96) * standard_error(values)
    return mean, mean - half, mean + half


def judge_margin(
    attack: list[float],
    baselines: dict[str, list[float]],
    factor: float,
    ceiling: float,
) -> MarginCheck:
    """Does ``attack`` reach ``factor`` × the better baseline (distinct members per seed)?

    Args:
        attack: the claiming attack's count per seed.
        baselines: each baseline's counts per seed; the one with the higher mean is the bar.
        factor: the claimed ratio (1.5 for "over 50% more").
        ceiling: the most the count can be (the model's members).

    Returns:
        The verdict with the gap the claim needs and the gap these seeds could detect.
    """
    name, base = max(baselines.items(), key=lambda kv: (np.mean(kv[1]), kv[0]))
    a, b = float(np.mean(attack)), float(np.mean(base))
    se = gap_se(standard_error(attack), standard_error(base))
    detectable, needed = NOISE_SE * se, (factor - 1.0) * b

    def check(verdict: str) -> MarginCheck:
        return MarginCheck(verdict, a, name, b, needed, detectable)

    if len(attack) < 2 or len(base) < 2:
        return check("undecided (no power: one seed, no spread to judge by)")
    if b == 0:
        # Any ratio to nothing holds; what counts is whether the attack finds members at all.
        if a > detectable:
            return check("yes (the baselines find none)")
        return check("undecided (no power: no attack finds a member)")
    if factor * b > ceiling:
        return check(
            f"undecided (no power: {factor:g}× the baseline exceeds the {ceiling:g} members)"
        )
    if needed <= detectable:
        return check(
            f"undecided (no power: the claimed gap {needed:.1f} is inside 2 SE = {detectable:.1f})"
        )
    if a >= factor * b and a - b > detectable:
        return check("yes")
    if factor * b - a > detectable:
        return check("no")
    return check("undecided (within seed noise)")


def new_members(df: pd.DataFrame, against: str, key: str = "high") -> pd.Series:
    """Per row, members it hit that ``against`` missed on the same model, seed and N_G (NaN
    where either record predates per-member hits, or ``against`` has no such run)."""
    col = f"hits_{key}"
    ref = {
        (r.model, r.seed, r.budget): getattr(r, col)
        for r in df[df["attack"] == against].itertuples()
        if getattr(r, col) is not None
    }
    out = []
    for r in df.itertuples():
        mine, theirs = getattr(r, col), ref.get((r.model, r.seed, r.budget))
        out.append(np.nan if mine is None or theirs is None else float(len(mine - theirs)))
    return pd.Series(out, index=df.index, dtype=float)


def turnover(df: pd.DataFrame, attack: str, key: str = "high") -> float:
    """Members one seed of ``attack`` hit that another seed of it missed (same model and N_G),
    averaged over ordered pairs of seeds: what "new" counts when an attack is merely run again.
    Beside ``new_members`` it says whether another attack's new members are more than a fresh
    draw would find. NaN with fewer than two seeds that record per-member hits."""
    col = f"hits_{key}"
    sets = [h for h in df.loc[df["attack"] == attack, col] if h is not None]
    pairs = [len(a - b) for i, a in enumerate(sets) for j, b in enumerate(sets) if i != j]
    return float(np.mean(pairs)) if pairs else float("nan")


def chance_members(rows: pd.DataFrame) -> float:
    """Distinct members chance alone would put in the high band: each row's non-member hit rate
    scaled to its member set, averaged over the rows (seeds). It sits beside every count, so a
    count that look-alikes explain reads as one."""
    return float((rows["nm_hit_high"] * rows["members"]).mean())


def _mean_with_chance(rows: pd.DataFrame) -> str:
    return f"{rows['distinct_high'].mean():.1f} ({chance_members(rows):.1f})"


def _fmt(values: list[float]) -> str:
    mean, lo, hi = interval(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} [{max(lo, 0):.1f}, {hi:.1f}]"


def _winner(per_attack: dict[str, list[float]]) -> str:
    """The top attack only when it beats the runner-up beyond seed noise."""
    ranked = sorted(per_attack.items(), key=lambda kv: -np.mean(kv[1]))
    if len(ranked) < 2:
        return "-"
    (top, a), (_, b) = ranked[0], ranked[1]
    se = gap_se(standard_error(a), standard_error(b))
    if len(a) < 2 or len(b) < 2 or np.mean(a) - np.mean(b) <= NOISE_SE * se:
        return "none beyond noise"
    return top


def answer_table(
    shipped: pd.DataFrame, claim: dict[str, Any], memorised: dict[str, float | None]
) -> pd.DataFrame:
    """One row per model (scale order): attacks ranked by distinct high-band members with 95%
    intervals, the ceiling and chance, a winner beyond noise, the claim's verdict with its power,
    and the claiming attack's new members."""
    rows = []
    involved = [claim["attack"], *claim["baselines"]]
    plain = shipped[~shipped["external"] & shipped["attack"].isin(involved)]
    models = sorted(plain["model"].unique(), key=lambda m: (_scale(plain, m), m))
    for model in models:
        g = plain[plain["model"] == model]
        per_attack = {
            a: part.sort_values("seed")["distinct_high"].astype(float).tolist()
            for a, part in g.groupby("attack")
        }
        members = int(g["members"].iloc[0])
        chance = chance_members(g)
        row: dict[str, Any] = {
            "model": model,
            "memorised": "-" if memorised.get(model) is None else f"{100 * memorised[model]:.0f}%",
            "N_G": int(g["budget"].iloc[0]),
            "distinct members, high band (mean [95% CI]), ranked": " > ".join(
                f"{a} {_fmt(v)}"
                for a, v in sorted(per_attack.items(), key=lambda kv: -np.mean(kv[1]))
            ),
            "ceiling": members,
            "chance": f"{chance:.1f}",
            "winner": _winner(per_attack),
        }
        bases = {b: per_attack[b] for b in claim["baselines"] if b in per_attack}
        verdict, new_count = f"no current {claim['attack']} runs", "-"
        if claim["attack"] in per_attack and bases:
            verdict = judge_margin(per_attack[claim["attack"]], bases, claim["factor"], members)
            verdict = f"{verdict.verdict} (bar: {verdict.baseline})"
            new = new_members(g, claim["new_against"])[g["attack"] == claim["attack"]]
            turn = turnover(g, claim["new_against"])
            shown = "" if np.isnan(turn) else f" ({turn:.1f})"  # one baseline seed: no turnover
            new_count = "-" if new.isna().all() else f"{new.mean():.1f}{shown}"
        row[f"{claim['attack']} ≥ {claim['factor']:g}× the better baseline?"] = verdict
        row[new_column(claim)] = new_count
        rows.append(row)
    return pd.DataFrame(rows)


def _scale(df: pd.DataFrame, model: str) -> int:
    return scale_order(str(df.loc[df["model"] == model, "scale"].iloc[0]))


def largest_budget(curves: pd.DataFrame, claim: dict[str, Any], shared: int) -> pd.DataFrame:
    """Per model, the current default curve records at the largest budget above ``shared`` that
    the claiming attack and every baseline reached (empty where no curve goes beyond it)."""
    if curves.empty:
        return curves
    involved = {claim["attack"], *claim["baselines"]}
    parts = []
    for _, g in curves[curves["attack"].isin(involved)].groupby("model"):
        common = [b for b, at in g.groupby("budget") if set(at["attack"]) >= involved]
        if common and max(common) > shared:
            parts.append(g[g["budget"] == max(common)])
    return pd.concat(parts) if parts else curves.iloc[0:0]


def answer_paragraph(table: pd.DataFrame, claim: dict[str, Any], where: str | None = None) -> str:
    """The question answered in words, from the table's verdicts: how many models could decide,
    and what they decided. ``where`` (e.g. "At the curves' largest budget") replaces the opening
    question for a second table."""
    col = next((c for c in table.columns if c.startswith(f"{claim['attack']} ≥ ")), None)
    if col is None or table.empty or table[col].str.startswith("no current").all():
        return f"No model has current runs of {claim['attack']} and its baselines yet."
    verdicts = table.set_index("model")[col]
    verdicts = verdicts[~verdicts.str.startswith("no current")]
    yes = [m for m, v in verdicts.items() if v.startswith("yes")]
    no = [m for m, v in verdicts.items() if v.startswith("no ")]
    noise = [m for m, v in verdicts.items() if v.startswith("undecided (within seed noise)")]
    blind = [m for m, v in verdicts.items() if v.startswith("undecided (no power")]
    powered = len(yes) + len(no) + len(noise)
    opening = (
        f"**{where}:**"
        if where
        else f"**Does {claim['attack']} extract what its baselines miss?** {claim['by']} claims "
        f"{claim['attack']} ≥ {claim['factor']:g}× the better of {', '.join(claim['baselines'])} "
        f"(distinct high-band members at equal N_G)."
    )
    parts = [
        f"{opening} Of {len(verdicts)} model{'s' if len(verdicts) != 1 else ''}, "
        f"{powered} could decide it: it holds on {len(yes)}{_names(yes)}, fails on "
        f"{len(no)}{_names(no)}, and is inside seed noise on {len(noise)}{_names(noise)}. "
        f"{len(blind)} cannot decide it (no power){_names(blind)}."
    ]
    new_col = new_column(claim)
    if new_col in table:
        known = table[table[new_col] != "-"]
        if not known.empty:
            parts.append(
                f" New members (found by {claim['attack']}, missed by {claim['new_against']} at "
                f"the same seed and N_G; in brackets, what one {claim['new_against']} seed finds "
                f"that another misses), mean per seed: "
                + ", ".join(f"{m} {n}" for m, n in zip(known["model"], known[new_col]))
                + "."
            )
    if not yes and powered == 0:
        parts.append(
            " **Answer: cannot tell** from these records; the budget curves and the tuning model "
            "below are where it can be decided."
        )
    elif not yes and not no:
        parts.append(
            " **Answer: cannot tell**: where a cell had the power to decide, the claimed margin "
            "lies inside its seed noise; more seeds would decide it."
        )
    elif yes and not no:
        parts.append(" **Answer: yes** where it could be decided.")
    elif no and not yes:
        parts.append(" **Answer: no** where it could be decided.")
    else:
        parts.append(" **Answer: it depends on the model** (see the rows).")
    return "".join(parts)


def new_column(claim: dict[str, Any]) -> str:
    """The answer table's column of new members, with the baseline's own turnover."""
    return f"new vs {claim['new_against']} (its turnover)"


def _names(models: list[str]) -> str:
    return f" ({', '.join(models)})" if models else ""


def equal_compute(
    shipped: pd.DataFrame, curves: pd.DataFrame, claim: dict[str, Any]
) -> pd.DataFrame:
    """The claiming attack at the shared N_G against each baseline's curve at no more model
    evaluations (UNet + classifier, preparation included): the comparison at equal compute.

    Every count carries its chance in brackets (``chance_members``): a cheap baseline run to a
    large N_G meets non-member look-alikes too, and a count chance explains must read as one.
    """
    rows = []
    if curves.empty:
        return pd.DataFrame(rows)
    mine = shipped[shipped["attack"] == claim["attack"]]
    for model, g in mine.groupby("model"):
        evals = float(g["evals"].mean())
        row: dict[str, Any] = {
            "model": model,
            f"{claim['attack']} (chance); evals": f"{_mean_with_chance(g)}; {evals:,.0f}",
        }
        for base in claim["baselines"]:
            c = curves[(curves["model"] == model) & (curves["attack"] == base)]
            c = c[c["evals"] <= evals * (1 + 1e-9)]
            if c.empty:
                row[f"{base} at ≤ equal evals"] = "-"
                continue
            best = c[c["budget"] == c["budget"].max()]
            row[f"{base} at ≤ equal evals"] = (
                f"{_mean_with_chance(best)}; N_G {int(best['budget'].iloc[0])}, "
                f"{best['evals'].mean():,.0f}"
            )
        rows.append(row)
    return pd.DataFrame(rows)
