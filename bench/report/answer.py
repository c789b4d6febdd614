"""The leaderboard's first screen as data: each question a margin claim raises, answered per
model with a test (``bench.report.verdicts``), as typed rows the view renders.

Three questions, each its own verdict:

- **The paper's margin**: "side ≥ 1.5 × the better baseline" at equal N_G, on distinct high-band
  members corrected for chance (each seed's count less the members its own non-member hit rate
  explains), paired by seed.
- **New members**: does the attack find members its reference (``new_against``, carlini) misses,
  beyond what the reference's own next seed finds? Counted in both directions, with spread.
- **Equal compute**: the attack at the shared N_G against each baseline's budget curve at no more
  model evaluations, which says what evaluation ratio it actually matched.

A claim is judged only where it could be decided: a cell where the claim needs more members than
the model has, or where no attack beats chance, reads "undecided (no power)" with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bench.cards import scale_order
from bench.report import columns as C
from bench.report.claims import MarginClaim
from bench.report.verdicts import (
    MarginTest,
    Ranking,
    Test,
    Verdict,
    blank,
    contrast,
    judge_margin,
    judge_new,
    rank,
)

# Every attack draws output batch i at seed s from generator (s, i) (bench/zoo/sampling.py), so
# the claim's attacks at one seed share their starting noise and their counts pair by seed.
PAIRED = True


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided Student t interval over seeds (the mean twice for one seed)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, mean, mean
    se = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * se
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Counts:
    """One attack's distinct high-band members on one model at one N_G, per seed, with the
    members chance explains at each seed (its non-member hit rate × the member set)."""

    attack: str
    raw: Mapping[int, float]
    chance: Mapping[int, float]

    @property
    def corrected(self) -> dict[int, float]:
        return {s: self.raw[s] - self.chance[s] for s in self.raw}

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.raw.values())))

    @property
    def mean_chance(self) -> float:
        return float(np.mean(list(self.chance.values())))

    @property
    def mean_corrected(self) -> float:
        return self.mean - self.mean_chance


def counts(rows: pd.DataFrame) -> Counts:
    """The Counts of one attack's rows (one per seed)."""
    rows = rows.sort_values(C.SEED)
    seeds = rows[C.SEED].astype(int).tolist()
    return Counts(
        str(rows[C.ATTACK].iloc[0]),
        dict(zip(seeds, rows[C.DISTINCT_HIGH].astype(float))),
        dict(zip(seeds, rows[C.CHANCE_HIGH].astype(float))),
    )


@dataclass(frozen=True)
class NewMembers:
    """Members found by one attack and missed by the other at the same seed, both ways, with
    the reference's turnover (what one of its seeds finds that another misses) and the test of
    the attack's new members against that turnover."""

    attack: str
    against: str
    found: Mapping[int, float]  # attack's members the reference missed, per seed
    missed: Mapping[int, float]  # reference's members the attack missed, per seed
    turnover: Mapping[int, float]  # per seed: mean over the reference's other seeds
    test: Test


@dataclass(frozen=True)
class AnswerRow:
    """One model's answer at one N_G."""

    model: str
    memorised: float | None
    budget: int
    members: int
    counts: tuple[Counts, ...]  # every attack of the claim that ran, by name
    ranking: Ranking  # on chance-corrected counts
    margin: MarginTest | None  # None: the claiming attack or every baseline is missing
    new: NewMembers | None  # None where a record predates per-member hits


def hit_sets(rows: pd.DataFrame) -> dict[int, frozenset[int]]:
    """Per seed, the members one attack's record hit in the high band (records that say)."""
    return {
        int(r[C.SEED]): r[C.HITS_HIGH] for _, r in rows.iterrows() if r[C.HITS_HIGH] is not None
    }


def turnover(sets: Mapping[int, frozenset[int]]) -> dict[int, float]:
    """Per seed s: members another seed hit that s missed, averaged over the other seeds; what
    "new" counts when the same attack is merely run again. Empty with fewer than two seeds."""
    if len(sets) < 2:
        return {}
    return {s: float(np.mean([len(sets[o] - sets[s]) for o in sets if o != s])) for s in sets}


def new_members(rows: pd.DataFrame, attack: str, against: str) -> NewMembers | None:
    """``attack``'s new members against ``against`` on one model at one N_G (None where either
    has no per-member hits at a shared seed)."""
    mine = hit_sets(rows[rows[C.ATTACK] == attack])
    theirs = hit_sets(rows[rows[C.ATTACK] == against])
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    found = {s: float(len(mine[s] - theirs[s])) for s in seeds}
    missed = {s: float(len(theirs[s] - mine[s])) for s in seeds}
    turn = turnover(theirs)
    return NewMembers(attack, against, found, missed, turn, judge_new(found, turn))


def answer_rows(
    shipped: pd.DataFrame, claim: MarginClaim, memorised: Mapping[str, float | None]
) -> list[AnswerRow]:
    """One row per model that ran any of the claim's attacks (scale order)."""
    involved = [claim.attack, *claim.baselines]
    plain = shipped[~shipped[C.EXTERNAL] & shipped[C.ATTACK].isin(involved)]
    models = sorted(plain[C.MODEL].unique(), key=lambda m: (_scale(plain, m), m))
    out = []
    for model in models:
        g = plain[plain[C.MODEL] == model]
        per = {a: counts(part) for a, part in g.groupby(C.ATTACK)}
        members = int(g[C.MEMBERS].iloc[0])
        margin, new = None, None
        bases = {b: per[b].corrected for b in claim.baselines if b in per}
        if claim.attack in per and bases:
            mine = per[claim.attack]
            ceiling = members - mine.mean_chance
            margin = judge_margin(mine.corrected, bases, claim.factor, ceiling, PAIRED)
            new = new_members(g, claim.attack, claim.new_against)
        out.append(
            AnswerRow(
                model=model,
                memorised=memorised.get(model),
                budget=int(g[C.BUDGET].iloc[0]),
                members=members,
                counts=tuple(per[a] for a in sorted(per)),
                ranking=rank({a: c.corrected for a, c in per.items()}, PAIRED),
                margin=margin,
                new=new,
            )
        )
    return out


def _scale(df: pd.DataFrame, model: str) -> int:
    return scale_order(str(df.loc[df[C.MODEL] == model, C.SCALE].iloc[0]))


def largest_budget(curves: pd.DataFrame, claim: MarginClaim, shared: int) -> pd.DataFrame:
    """Per model, the current default curve records at the largest budget above ``shared`` that
    the claiming attack and every baseline reached (empty where no curve goes beyond it)."""
    if curves.empty:
        return curves
    involved = {claim.attack, *claim.baselines}
    parts = []
    for _, g in curves[curves[C.ATTACK].isin(involved)].groupby(C.MODEL):
        common = [b for b, at in g.groupby(C.BUDGET) if set(at[C.ATTACK]) >= involved]
        if common and max(common) > shared:
            parts.append(g[g[C.BUDGET] == max(common)])
    return pd.concat(parts) if parts else curves.iloc[0:0]


@dataclass(frozen=True)
class Matched:
    """A baseline's curve read at the largest budget whose evaluations do not exceed the
    attack's: what it found there, how much of the attack's compute that is, and how far its
    curve goes at all."""

    baseline: str
    budget: int | None  # None: no budget of its curve fits within the attack's evaluations
    counts: Counts | None
    evals: float
    ratio: float  # evals / the attack's evals (1.0 is equal compute)
    curve_evals: float  # the largest evaluations its curve measured
    test: Test  # attack ≥ baseline (factor 1), chance-corrected, paired by seed


@dataclass(frozen=True)
class EqualComputeRow:
    model: str
    attack: Counts
    evals: float
    matched: tuple[Matched, ...]


def equal_compute(
    shipped: pd.DataFrame, curves: pd.DataFrame, claim: MarginClaim
) -> list[EqualComputeRow]:
    """The claiming attack at the shared N_G against each baseline's curve at no more model
    evaluations (UNet + classifier, preparation included).

    The test is the attack against the baseline (factor 1: "does it find more at no more
    compute?"). A baseline read at a fraction of the attack's evaluations can show that the
    attack loses (the baseline did better with less), never that it wins: where the attack leads
    and the baseline's curve stops short of its evaluations, the verdict is undecided with the
    ratio it matched.
    """
    rows: list[EqualComputeRow] = []
    if curves.empty:
        return rows
    mine = shipped[(shipped[C.ATTACK] == claim.attack) & ~shipped[C.EXTERNAL]]
    for model, g in mine.groupby(C.MODEL):
        attack, evals = counts(g), float(g[C.EVALS].mean())
        matched = []
        for base in claim.baselines:
            c = curves[(curves[C.MODEL] == model) & (curves[C.ATTACK] == base)]
            if c.empty:
                continue
            reach = float(c[C.EVALS].max())
            within = c[c[C.EVALS] <= evals * (1 + 1e-9)]
            if within.empty:
                test = blank(Verdict.NO_DATA, "no budget of its curve within the evaluations")
                matched.append(Matched(base, None, None, math.nan, 0.0, reach, test))
                continue
            best = within[within[C.BUDGET] == within[C.BUDGET].max()]
            theirs, spent = counts(best), float(best[C.EVALS].mean())
            test = _at_equal_compute(attack, theirs, spent / evals, claim.factor)
            matched.append(
                Matched(
                    base, int(best[C.BUDGET].iloc[0]), theirs, spent, spent / evals, reach, test
                )
            )
        rows.append(EqualComputeRow(str(model), attack, evals, tuple(matched)))
    return rows


def _at_equal_compute(attack: Counts, base: Counts, ratio: float, factor: float) -> Test:
    """Attack ≥ baseline (chance-corrected, paired by seed) at the matched evaluations, with
    the power to tell equal from the claimed ``factor``."""
    result = judge_margin(
        attack.corrected, {base.attack: base.corrected}, 1.0, math.inf, PAIRED, factor
    )
    test = result.test
    if test.verdict is Verdict.HOLDS and ratio < 1 - 1e-9:
        c = contrast(attack.corrected, base.corrected, 1.0, PAIRED)
        return blank(
            Verdict.UNMATCHED,
            f"{attack.attack} leads ({c.mean:+.1f}, p {test.p:.3f}), but {base.attack}'s curve "
            f"was read at {100 * ratio:.0f}% of its evaluations: a win needs equal compute",
        )
    return test
