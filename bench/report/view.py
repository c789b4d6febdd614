"""The first screen's words and tables, rendered from typed answers (``bench.report.answer``).

Every sentence here is written from a ``Verdict`` and its numbers, never read back from a string
the report wrote. The first screen is built to be read in thirty seconds: one table with each
question's verdict per model, a glossary, then the detail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.cards import attack_card
from bench.metrics.sscd_bands import calibrated_entry
from bench.report import columns as C
from bench.report.answer import AnswerRow, Counts, EqualComputeRow, NewMembers, t_interval
from bench.report.claims import LeaksMoreClaim, MarginClaim, OrderClaim
from bench.report.fits import EXTRAPOLATE
from bench.report.tables import TUNED_MARK
from bench.report.verdicts import ALPHA, POWER_GOAL, Test, Verdict

GLOSSARY = (
    "**Glossary.** *member*: a training image of the attacked model; *N_G*: outputs an attack "
    "generates (its budget); *distinct members*: members with some output in the high band "
    "(ℓ2 close enough to count as a copy, calibrated on non-members); *chance*: the members a "
    "count would reach by look-alikes alone (the same outputs' hit rate on held-out non-members "
    "× the member set), subtracted from every count a verdict reads; *UMS / AMS*: unique / all "
    "memorised samples, the share of N_G that are distinct members / that copy some member "
    "(SIDE's Eqs. 6–9); *δ*: a distance threshold for 'extracted'; *K′*: SIDE's clusters kept "
    "after its cohesion filter; *SE*: standard error over seeds; *p*: one-sided p value of a "
    "Student t test; *power*: the chance that test rejects when the claimed effect is true; "
    "*paired*: attacks at one seed share their starting noise, so their counts are compared "
    "seed by seed; *turnover*: members one carlini seed finds that another misses."
)


# What the first screen's counts are measured in, and where the paper's SSCD applies.
def similarity_note(metrics: dict[str, Any]) -> str:
    """The metric the counts use, and per resolution whether the dataset card's calibrated SSCD
    bands separate copies from unseen faces (the numbers are the card's)."""
    verdicts = []
    for res in sorted(metrics.get("sscd_bands", {}), key=int):
        entry = calibrated_entry(metrics, "sscd", int(res))
        if entry is None:
            continue
        verdict = "separates" if entry.allowed else "does not separate"
        verdicts.append(
            f"at {res} px it {verdict} copies from unseen faces (blurred copies' 5th percentile "
            f"{entry.copy_similarity_q05:.2f} against a high edge of {entry.high.lo:.2f})"
        )
    measured = "; ".join(verdicts) if verdicts else "no resolution is calibrated yet"
    return (
        "**Metric.** Each answer above names its similarity. SIDE states its CelebA claim in SSCD "
        "similarity, which the suite calibrates per resolution (`bench data calibrate "
        f"--similarity sscd`, stored in the dataset card): {measured}. SSCD is scored only where "
        "it separates, so the 16 and 32 px answers are in pixel ℓ2 alone, and the cpu64 zoo's "
        "records are answered in both."
    )


def agreement_note(frame: pd.DataFrame) -> str:
    """How far the two similarities agree on what a copy is, over the current records scored in
    both: the members pixel ℓ2's high band finds that SSCD's high band also finds, and the
    reverse, pooled over every record (attack, model, seed). Empty where no record has SSCD.

    A reader of an SSCD answer needs this beside it: a zoo whose reproductions are blurred or
    damaged copies can be close in pixels yet below SSCD's calibrated edge, and then the SSCD
    counts are small for every attack alike, which the verdicts' power then shows."""
    if frame.empty or C.SSCD_HITS_HIGH not in frame:
        return ""
    both = frame[frame[C.SSCD_HITS_HIGH].notna() & frame[C.HITS_HIGH].notna()]
    if both.empty:
        return ""
    l2 = sum(len(h) for h in both[C.HITS_HIGH])
    sscd = sum(len(h) for h in both[C.SSCD_HITS_HIGH])
    shared = sum(len(a & b) for a, b in zip(both[C.HITS_HIGH], both[C.SSCD_HITS_HIGH]))

    def share(part: int, whole: int) -> str:
        return f"{part:,} of {whole:,} ({100 * part / whole:.0f}%)" if whole else f"{part:,} of 0"

    return (
        f"**The two similarities on the same outputs.** Over the {len(both):,} current records "
        f"scored in both, SSCD's high band holds {share(shared, l2)} of the members pixel ℓ2's "
        f"high band finds, and ℓ2's high band holds {share(shared, sscd)} of SSCD's (members "
        "counted once per record)."
    )


MEMBERSHIP_NOTE = (
    "**Membership inference** on the same zoo (loss, SecMI, PIA, SimA; held-out thresholds, "
    "and which inferred members extraction recovers): `reports/membership.md`."
)

# The first screen's columns, one per verdict a question can take.
SCREEN_VERDICTS = (
    Verdict.HOLDS,
    Verdict.FAILS,
    Verdict.NOISE,
    Verdict.NO_POWER,
    Verdict.UNMATCHED,
)


# The parameters that name a SIDE variant on the first screen (issue 32: its features, K and τ
# beside the rest), with their symbols; a claim by an attack without them shows its version only.
VARIANT_KEYS = {
    "features": "features",
    "n_clusters": "K",
    "tau": "τ",
    "tau_null_q": "null filter q",
    "guidance_scale": "λ",
    "n_syn": "N_syn",
    "clf_width": "width",
}


def variant(claim: MarginClaim, profile: str, note: str = "") -> str:
    """The claiming attack as the page judges it: card version, its key defaults, and the
    attack's own note on what its mechanism did in the records (``Attack.records_note``)."""
    card = attack_card(claim.attack)
    params = card.params(profile)
    shown = ", ".join(
        f"{sym} {params[k]:,g}" if not isinstance(params[k], str) else f"{sym} {params[k]}"
        for k, sym in VARIANT_KEYS.items()
        if k in params and not (k == "tau_null_q" and params[k] == 0)
    )
    extra = f"; {note}" if note else ""
    return f"{claim.attack} (card v{card.version}{', ' + shown if shown else ''}{extra})"


def test_text(test: Test) -> str:
    """A verdict with its numbers: 'fails: −12.3 ± 2.1, paired t, df 2; p …; power …'."""
    if math.isnan(test.p_holds):
        return f"{test.verdict.value}: {test.reason}"
    why = f"; {test.reason}" if test.reason else ""
    return f"{test.verdict.value}: {test.describe()}{why}"


def _spread(values: Mapping[int, float]) -> str:
    v = list(values.values())
    if len(v) < 2:
        return f"{v[0]:.1f}" if v else "-"
    return f"{np.mean(v):.1f} ± {np.std(v, ddof=1):.1f}"


def _count(c: Counts) -> str:
    """Chance-corrected mean with its 95% t interval, and the raw count beside where chance is
    not zero."""
    mean, lo, hi = t_interval(list(c.corrected.values()))
    text = f"{c.attack} {mean:.1f}"
    if len(c.raw) > 1:
        text += f" [{lo:.1f}, {hi:.1f}]"
    if round(c.mean_chance, 1) > 0:
        text += f" (raw {c.mean:.1f} − chance {c.mean_chance:.1f})"
    return text


def _winner(row: AnswerRow) -> str:
    r = row.ranking
    if r.winner is not None:
        return f"{r.winner} (p {r.test.p_holds:.3f})"
    if r.test.verdict is Verdict.NO_DATA:
        return "-" if len(r.order) < 2 else r.test.reason
    return f"none: p {r.test.p_holds:.3f}, power {r.test.power:.2f} ({r.test.verdict.value})"


def _new(new: NewMembers | None) -> tuple[str, str]:
    if new is None:
        return "-", "-"
    turn = _spread(new.turnover) if new.turnover else "-"
    counts = f"{_spread(new.found)} / {_spread(new.missed)} / {turn}"
    return counts, test_text(new.test)


# Column names of the rendered answer table, declared once (tests read them).
MODEL, MEMORISED, N_G, MEMBERS = "model", "memorised", "N_G", "members"
RANKED = "distinct members less chance, mean [95% CI], ranked"
WINNER = f"winner (one-sided, α {ALPHA:g})"


def margin_column(claim: MarginClaim) -> str:
    return f"{claim.attack} ≥ {claim.factor:g}× the better baseline?"


def new_columns(claim: MarginClaim) -> tuple[str, str]:
    found = f"{claim.attack} finds / misses vs {claim.new_against}; {claim.new_against}'s turnover"
    return (
        f"new: {found} (mean ± sd)",
        f"{claim.attack}'s new beyond {claim.new_against}'s turnover?",
    )


def answer_frame(rows: Sequence[AnswerRow], claim: MarginClaim) -> pd.DataFrame:
    """The answer rows rendered for the page."""
    new_col, new_test_col = new_columns(claim)
    out = []
    for row in rows:
        ranked = row.ranking.text({c.attack: _count(c) for c in row.counts})
        margin = (
            f"no current {claim.attack} runs"
            if row.margin is None
            else f"{test_text(row.margin.test)} (bar: {row.margin.bar})"
        )
        new_counts, new_test = _new(row.new)
        out.append(
            {
                MODEL: row.model,
                MEMORISED: "-" if row.memorised is None else f"{100 * row.memorised:.0f}%",
                N_G: f"{row.budget:,}",
                MEMBERS: f"{row.members:,}",
                RANKED: ranked,
                WINNER: _winner(row),
                margin_column(claim): margin,
                new_col: new_counts,
                new_test_col: new_test,
            }
        )
    return pd.DataFrame(out)


def _judged(rows: Sequence[AnswerRow]) -> list[AnswerRow]:
    return [r for r in rows if r.margin is not None]


def _by_verdict(pairs: Sequence[tuple[str, Test]]) -> dict[Verdict, list[str]]:
    out: dict[Verdict, list[str]] = {}
    for model, test in pairs:
        out.setdefault(test.verdict, []).append(model)
    return out


def _sentence(question: str, found: dict[Verdict, list[str]]) -> str:
    """'**question**: holds on 1 (m), fails on 0, …' and the answer it adds up to."""
    total = sum(len(v) for v in found.values())
    if total == 0:
        return f"**{question}** No model has the runs to judge it."
    parts = [
        f"{v.value} on {len(found[v])} ({', '.join(found[v])})"
        for v in SCREEN_VERDICTS
        if found.get(v)
    ]
    yes, no = found.get(Verdict.HOLDS, []), found.get(Verdict.FAILS, [])
    if yes and no:
        answer = "it depends on the model"
    elif yes:
        answer = (
            "yes" if len(yes) == total else f"yes on {len(yes)} of {total}, undecided elsewhere"
        )
    elif no:
        answer = "no" if len(no) == total else f"no on {len(no)} of {total}, undecided elsewhere"
    else:
        answer = "cannot tell from these runs"
    models = f"{total} model{'s' if total != 1 else ''}"
    return f"**{question}** {answer[:1].upper()}{answer[1:]}. Of {models}: {'; '.join(parts)}."


def questions(
    rows: Sequence[AnswerRow], equal: Sequence[EqualComputeRow], claim: MarginClaim
) -> list[tuple[str, dict[Verdict, list[str]]]]:
    """Each question the page asks, with the models under each verdict."""
    judged = _judged(rows)
    out = [
        (
            f"Does {claim.attack} find members {claim.new_against} misses, beyond "
            f"{claim.new_against}'s own seed-to-seed turnover?",
            _by_verdict([(r.model, r.new.test) for r in judged if r.new is not None]),
        ),
        (
            f"The paper's margin: is {claim.statement} at equal N_G?",
            _by_verdict([(r.model, r.margin.test) for r in judged if r.margin is not None]),
        ),
    ]
    for base in claim.baselines:
        pairs = [(e.model, m.test) for e in equal for m in e.matched if m.baseline == base]
        if pairs:
            out.append(
                (f"Does {claim.attack} find more than {base} at equal compute?", _by_verdict(pairs))
            )
    return out


def first_screen(
    rows: Sequence[AnswerRow],
    equal: Sequence[EqualComputeRow],
    claim: MarginClaim,
    profile: str,
    metric: str = "pixel ℓ2",
    note: str = "",
) -> list[str]:
    """The thirty-second answer: the variant and metric, then one line per question."""
    head = (
        f"Judged: {variant(claim, profile, note)}, against {', '.join(claim.baselines)}, on "
        f"distinct members in the high band of {metric} less chance, over seeds paired by their "
        f"shared starting noise; every verdict is a one-sided Student t test at α = {ALPHA:g}, and "
        f"'no power' means its power at the claimed effect is below {POWER_GOAL:g}."
    )
    lines = [head, ""]
    return lines + [f"- {_sentence(q, found)}" for q, found in questions(rows, equal, claim)]


def answer_paragraph(
    rows: Sequence[AnswerRow], claim: MarginClaim, where: str | None = None
) -> str:
    """The margin question answered in words from the rows' verdicts (``where`` names the
    budget when it is not the shared N_G)."""
    judged = _judged(rows)
    if not judged:
        return f"No model has current runs of {claim.attack} and its baselines yet."
    found = _by_verdict([(r.model, r.margin.test) for r in judged if r.margin is not None])
    return _sentence(f"Is {claim.statement}{' ' + where if where else ''}?", found)


def equal_compute_frame(rows: Sequence[EqualComputeRow], claim: MarginClaim) -> pd.DataFrame:
    """Each baseline read at the evaluations it matched, the ratio, how far its curve goes, and
    the verdict."""
    out = []
    for row in rows:
        entry = {
            MODEL: row.model,
            f"{claim.attack}: members less chance; evals": f"{_count(row.attack)}; "
            f"{row.evals:,.0f}",
        }
        for m in row.matched:
            if m.counts is None:
                read = f"none within; its curve starts above ({m.curve_evals:,.0f} evals)"
            else:
                reach = (
                    ""
                    if m.curve_evals >= row.evals * (1 - 1e-9)
                    else f"; its curve stops at {100 * m.curve_evals / row.evals:.0f}%"
                )
                # What the baseline would have to run to spend the attack's evaluations.
                equal = row.evals / (m.evals / m.budget)
                read = (
                    f"N_G {m.budget:,}: {_count(m.counts)}; {m.evals:,.0f} evals = "
                    f"{100 * m.ratio:.0f}% of {claim.attack}'s{reach} (equal compute is "
                    f"N_G ≈ {equal:,.0f})"
                )
            entry[f"{m.baseline} at ≤ equal evals"] = read
            entry[f"{claim.attack} > {m.baseline}?"] = test_text(m.test)
        out.append(entry)
    return pd.DataFrame(out)


def answer_text(claim: MarginClaim) -> str:
    """What the per-model answer table's columns mean."""
    new_col, new_test_col = new_columns(claim)
    return (
        f"Per model at the shared N_G (scale order; `memorised` is the card's measured fraction "
        f"of unguided samples that copy a member). Attacks are ranked by distinct high-band "
        f"members less chance, mean and 95% t interval over seeds, with the raw count and the "
        f"chance beside it where chance is not zero; '=' is a tie. `winner` is named only where "
        f"the top attack beats every other in a paired one-sided t test at α = {ALPHA:g} (its "
        f"power is at a lead of half the runner-up's count). The "
        f"claim column tests the contrast {claim.attack} − {claim.factor:g} × baseline per seed "
        f"({claim.source}): 'holds' needs it above zero against every baseline, 'fails' below "
        f"zero against one (Bonferroni over the baselines); the power is at the claimed effect, "
        f"({claim.factor:g} − 1) × the bar. `{new_col}` counts, per seed, members "
        f"{claim.attack} found that {claim.new_against} missed, members {claim.new_against} "
        f"found that {claim.attack} missed, and what one {claim.new_against} seed finds that "
        f"another misses; `{new_test_col}` tests the first against the third, paired by seed "
        f"(power at new members twice the turnover)."
    )


def far_text() -> str:
    return (
        "The same columns for the models whose budget curves go beyond the shared N_G, read at "
        "the largest budget every attack in the claim reached (smaller budgets of a curve are "
        "prefixes of one seeded run)."
    )


def equal_compute_text(claim: MarginClaim) -> str:
    return (
        f"{claim.attack} at the shared N_G against each baseline's budget curve at the largest "
        f"budget whose model evaluations (UNet + classifier, preparation included) do not "
        f"exceed {claim.attack}'s, with the share of {claim.attack}'s evaluations that matched "
        f"and, where the curve stops short of them, how far it goes. Counts are less chance "
        f"(raw and chance beside). The test is {claim.attack} > baseline, paired one-sided t at "
        f"α = {ALPHA:g}: a baseline that finds more with fewer evaluations decides 'fails', but "
        f"a lead over a baseline read at a fraction of the evaluations is 'compute not matched', "
        f"never 'holds', until its curve reaches {claim.attack}'s evaluations."
    )


# --- the sections' words -------------------------------------------------------------------

INTRO = (
    "Generated by `python -m bench report` from the committed cards and the run records under "
    "`runs/` (and `curves/runs/` for the budget curves); each number is the mean ± std over seeds "
    "(a single value where one seed ran); `config` is the record's cell key (the hash of the "
    "attack parameters). UMS/AMS follow SIDE's Eqs. 6–9 with the ℓ2 bands of "
    '`datasets/celeba.toml` (calibrated against non-members); "chance" is the same statistic for '
    "the held-out non-member pool (in the answer, curve and UMS-plot columns, scaled to the "
    "member set). Cost counts every UNet and classifier evaluation, preparation included. "
    f"{TUNED_MARK} marks a model that an attack's default was tuned on (its card's `tuned_on`), "
    "on seeds outside the grid; those rows are not independent of the choice."
)


SIGNAL = (
    "Share of the members (and, for chance, of the non-members) that lie within each band "
    "of some output. Where members are hit no more often than non-members, the band holds "
    "look-alikes and ranks nothing."
)


TIERS = (
    "Ladder and canary models: members of each duplicate count found in the high band, and "
    "the lowest count an attack reaches (its strength)."
)


def order(claim: OrderClaim) -> str:
    return (
        f"{claim.by} reports {' > '.join(claim.attacks)} on UMS in every band. Ranked by mean "
        "UMS per model and band ('=' is a tie); judged only where some attack hits members more "
        "often than non-members. Each gap in the paper's order is tested one-sided, paired by "
        f"seed, at α = {ALPHA:g}, and printed with the p of its own sign: the order holds when "
        "every gap is confirmed, fails when a reversal is, and is undecided otherwise."
    )


def leaks_more(claim: LeaksMoreClaim, conditioning: str, plain: str) -> str:
    return (
        f"{claim.by} find {claim.statement}: {claim.card} extraction on the {conditioning} model "
        f"against {claim.than} on the plain {plain} model of the same subset (mean UMS %)."
    )


CURVES = (
    "Distinct members extracted against N_G and against total model evaluations "
    "(`bench curve`: smaller budgets are prefixes of one seeded run; preparation is "
    "charged at every budget). In the figure, the band around each curve is ±1 sd over seeds, "
    "cut at zero, and the dotted line of the same colour is that attack's chance."
)


PIVOT = (
    "The high-band column above read across: one row per model and attack with the card's "
    "defaults, mean ± sd over seeds at each budget of the curves, and in brackets chance (the "
    "same outputs' non-member hit rate scaled to the member set)."
)


TIERS_ACROSS = (
    "The ladder and canary models' tiers at the shared N_G and at the largest budget "
    "of their curves: which duplicate counts each attack reaches as N_G grows."
)


FITS = (
    "Each current curve fitted per seed with SIDE's E[N_umem] = Σ_i [1 − (1 − p_i)^N] for "
    "members whose copy rates p_i follow a Gamma(k, θ) law, which is M·[1 − (1 + θN)^−k] "
    "(`bench/report/fits.py`, the suite's choice: a single shared p saturates far faster than "
    "any measured curve). The fit column is the fit to the seed mean; a curve still rising at "
    "its largest budget shows its slope there (its M is not identified), and a fit whose θ or k "
    "sits on its grid's edge is 'not identified' and shows no parameters. The N_G columns are "
    "the median over seeds' fits with the seeds' range, marked "
    "'(extrapolated)' where read below the smallest or above the largest budget measured, 'not "
    f"identified' where such a reading would come from an unidentified fit, and 'not reached' "
    f"beyond {EXTRAPOLATE}× the largest budget or above the fitted M."
)


def order_across(claim: OrderClaim) -> str:
    return (
        f"{claim.by}'s claim is about efficiency, so the order is also judged at every budget "
        "of the curves, in the high band (UMS × N_G is the distinct members above), with the "
        "same tests as the table at the shared N_G."
    )


OTHER = (
    "Current runs at another N_G or with parameters other than the card defaults "
    "(overrides), grouped by N_G."
)


SUPERSEDED = (
    "Made by an older attack card or checkpoint, so not comparable with the tables "
    "above; kept for the record and listed here until re-run."
)


EXTERNAL = (
    "Models attacked from a diffusers folder with `--model-path`, not zoo cards: named by "
    "folder and weights digest, scored against the member set the run named (`scale`). "
    "Never ranked with the zoo; `bench zoo import` makes one a zoo model."
)


FLOORS = (
    "CI re-runs each floor file's cell on its CI seed and fails below a floor (mean − 3σ "
    "over the measured seeds, at least one output of margin). Each mutation switches one "
    "mechanism of the attack off (its card's `[mechanism_off]` values, or the code "
    "mutations its class declares, `Attack.mutations`); CI also requires each caught "
    "mutation to fall below a floor. A mutation marked NOT caught is one these floors "
    "cannot tell apart from the real attack."
)
