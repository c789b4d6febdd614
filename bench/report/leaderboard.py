"""Behind `bench report`: the leaderboard is a pure function of the committed run records.

The main table compares attacks at one output budget N_G only (the dataset card's, per profile)
and with the attack cards' current versions and defaults. Other budgets appear as efficiency
curves (``curves/runs``); other parameters (sweeps, overrides) and records made by an older card
or checkpoint are listed apart with the reason. Plots go next to the leaderboard; galleries of
outputs go under BENCH_HOME because they can reproduce CelebA faces, which must never enter the
repository.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.attacks.declared import records_note
from bench.cards import attack_card, dataset_card, model_cards
from bench.metrics import BAND_NAMES
from bench.records.floorfile import read_floor
from bench.report import columns as C
from bench.report import view as text
from bench.report.answer import answer_rows, equal_compute, largest_budget
from bench.report.claims import MarginClaim, leaks_more_claims, margin_claims, order_claims
from bench.report.curves import curve_pivot, curve_table
from bench.report.fits import fit_table
from bench.report.frame import in_sscd, load_records
from bench.report.membership import membership_section
from bench.report.plots import plot, plot_curves
from bench.report.profiles import (
    borrowed_lines,
    of_profile,
    profile_label,
    profiles,
)
from bench.report.tables import (
    conditional_table,
    diagnostics_tables,
    floors_table,
    leaderboard_table,
    ordering_table,
    signal_table,
    tiers_table,
)
from bench.report.view import (
    GLOSSARY,
    answer_frame,
    answer_paragraph,
    answer_text,
    equal_compute_frame,
    equal_compute_text,
    far_text,
    first_screen,
)
from bench.utils.atomic import staged, write_text_atomic
from bench.utils.paths import reports_dir
from bench.zoo.manage import zoo_rows

BANDS = BAND_NAMES

# How the first screen names the two similarities a profile may be answered in.
SSCD_METRIC = "SSCD similarity"
L2_METRIC = "pixel ℓ2"


def _table(frame: pd.DataFrame) -> str:
    return tabulate(
        frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True
    )


def _section(title: str, text: str, frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    return ["", f"## {title}", "", text, "", _table(frame)]


# The command line's default profile: its plots keep the plain file names earlier reports linked
# to, and an empty leaderboard is headed with it.
DEFAULT_PROFILE = "cpu"


def _plot_name(stem: str, profile: str) -> str:
    """A plot's file name: the cpu profile keeps the plain name earlier reports linked to."""
    return f"{stem}.png" if profile == DEFAULT_PROFILE else f"{stem}-{profile}.png"


def _main_sections(shipped: pd.DataFrame, out: Path, profile: str, label: str) -> list[str]:
    """The shared-budget table and the sections read from it, for one profile; ``label`` names
    the profile in every heading when the records span several."""
    if shipped.empty:
        return ["No current runs with the cards' defaults at the shared N_G yet."]
    png = _plot_name("leaderboard", profile)
    plot(shipped, out / png)
    parts = [_table(leaderboard_table(shipped)), "", f"![UMS by band]({png})"]
    parts += _section(
        f"Signal above chance{label}",
        text.SIGNAL,
        signal_table(shipped),
    )
    parts += _section(
        f"Duplicated members by tier{label}",
        text.TIERS,
        tiers_table(shipped),
    )
    for title, words, table in diagnostics_tables(shipped):
        parts += _section(title + label, words, table)
    margins = {c.by: c for c in margin_claims()}
    for claim in order_claims():
        parts += _section(
            f"Against the {claim.by} paper's order{label}",
            text.order(claim),
            ordering_table(shipped, claim.attacks, margin=margins.get(claim.by)),
        )
    for claim in leaks_more_claims():
        card, than = attack_card(claim.card), attack_card(claim.than)
        conditioning, plain = card.applies_to[0], than.applies_to[0]
        parts += _section(
            f"{card.name[:1].upper()}{card.name[1:]} against {plain} extraction{label}",
            text.leaks_more(claim, conditioning, plain),
            conditional_table(shipped, card.name, than.name, claim.verdict),
        )
    return parts


def _note(shipped: pd.DataFrame, claim: MarginClaim) -> str:
    """The claiming attack's own note on its mechanism over the records the answer reads."""
    infos = shipped.loc[shipped[C.ATTACK] == claim.attack, C.INFO].tolist()
    return records_note(claim.attack, infos)


def _profile_answers(
    df: pd.DataFrame, curves: pd.DataFrame, profile: str, label: str
) -> tuple[list[str], list[str]]:
    """One profile's answers: first in SSCD similarity where its records were scored in it (the
    metric of SIDE's CelebA claim), then in pixel ℓ2, each under its own headings."""
    sscd = in_sscd(df)
    if sscd.empty:
        return _answers(df, curves, profile, label)
    first, first_detail = _answers(sscd, in_sscd(curves), profile, label, SSCD_METRIC)
    second, second_detail = _answers(df, curves, profile, label, L2_METRIC)
    return first + second, first_detail + second_detail


def _answers(
    df: pd.DataFrame,
    curves: pd.DataFrame,
    profile: str,
    label: str = "",
    metric: str = "",
) -> tuple[list[str], list[str]]:
    """Each margin claim answered for one profile: the lines of the first screen, and the detail
    (per-model tables at the shared N_G, at the curves' largest budget, at equal compute).
    ``label`` names the profile in the headings when the records span several; ``metric`` names
    the similarity when a profile is answered in more than one."""
    suffix = f"{label}{', in ' + metric if metric else ''}"
    label = suffix
    if df.empty:
        return [], []
    shipped = _current(df)
    memorised = {c.name: c.trained.get("memorised_fraction") for c in model_cards()}
    current = curves[(curves[C.STALE] == "") & curves[C.DEFAULTS]] if not curves.empty else curves
    screen, detail = [], []
    for claim in margin_claims():
        if profile not in attack_card(claim.attack).defaults:  # not run in this profile
            continue
        rows = answer_rows(shipped, claim, memorised)
        if not rows:
            continue
        equal = equal_compute(shipped, current, claim)
        screen += [
            "",
            f"### {claim.attack} against {', '.join(claim.baselines)}{label}",
            "",
            *first_screen(rows, equal, claim, profile, metric or L2_METRIC, _note(shipped, claim)),
        ]
        detail += [
            "",
            f"## The answer in detail{label}: {claim.statement}",
            "",
            answer_paragraph(rows, claim),
            "",
            answer_text(claim),
            "",
            _table(answer_frame(rows, claim)),
        ]
        far = largest_budget(current, claim, max(r.budget for r in rows))
        if not far.empty:
            far_rows = answer_rows(far, claim, memorised)
            detail += [
                "",
                f"### At the curves' largest budget{label}",
                "",
                answer_paragraph(far_rows, claim, where="at the curves' largest budget"),
                "",
                far_text(),
                "",
                _table(answer_frame(far_rows, claim)),
            ]
        detail += _section(
            f"At equal compute{label}", equal_compute_text(claim), equal_compute_frame(equal, claim)
        )
    return screen, detail


def _curve_sections(curves: pd.DataFrame, out: Path, profile: str, label: str) -> list[str]:
    """The budget curves' sections for one profile (its own plot, tiers, fits and order), so a
    32×32 curve never sits in a 16×16 table; ``label`` names the profile when several ran."""
    png = _plot_name("curves", profile)
    plot_curves(curves, out / png)
    parts = _section(
        f"Efficiency curves{label}",
        text.CURVES,
        curve_table(curves),
    )
    parts += ["", f"![distinct members against budget]({png})"]
    parts += _section(
        f"Distinct members by N_G{label}",
        text.PIVOT,
        curve_pivot(curves),
    )
    current = curves[(curves[C.STALE] == "") & curves[C.DEFAULTS]]
    ends = current.groupby(C.MODEL)[C.BUDGET].transform("max")
    parts += _section(
        f"Duplicated members by tier across budgets{label}",
        text.TIERS_ACROSS,
        tiers_table(current[current[C.SHIPPED] | (current[C.BUDGET] == ends)]),
    )
    parts += _section(
        f"Budget needed for 1 and 10 members{label}",
        text.FITS,
        fit_table(current),
    )
    for claim in order_claims():
        parts += _section(
            f"The paper's order across budgets{label}",
            text.order_across(claim),
            ordering_table(
                current,
                claim.attacks,
                bands=("high",),
                margin={c.by: c for c in margin_claims()}.get(claim.by),
            ),
        )
    return parts


def write_leaderboard(root: Path | None = None) -> Path:
    """``leaderboard.md`` and its plots from the records under ``root``, written to a staging
    folder and moved into place together, so a failure midway leaves the earlier report whole."""
    root = root or reports_dir()
    with staged(root) as stage:
        _write_leaderboard(root, stage)
    return root / "leaderboard.md"


def _current(df: pd.DataFrame) -> pd.DataFrame:
    """The rows every answer reads: current records with the cards' defaults, from the zoo."""
    if df.empty:
        return df
    return df[(df[C.STALE] == "") & df[C.SHIPPED] & ~df[C.EXTERNAL]]


def _write_leaderboard(root: Path, out: Path) -> None:
    # Read (and checked) before any plot is written, so a bad floor file changes nothing.
    floors = [read_floor(p) for p in sorted((root / "floors").glob("*.json"))]
    runs_dir, curves_dir = root / "runs", root / "curves" / "runs"
    df = load_records(root) if runs_dir.is_dir() else pd.DataFrame()
    curves = load_records(root, "curves/runs") if curves_dir.is_dir() else pd.DataFrame()
    # Each profile gets its own answer and shared-budget sections: its models differ in
    # resolution and training budget, so its rows never rank against another profile's.
    every = profiles(df, curves)
    labels = {p: profile_label(p) if len(every) > 1 else "" for p in every}
    screen, detail = [], []
    for p in every:
        lines, more = _profile_answers(of_profile(df, p), of_profile(curves, p), p, labels[p])
        screen, detail = screen + lines, detail + more
    parts = ["# memorization-bench leaderboard"]
    if screen:
        metrics = dataset_card("celeba").metrics
        parts += ["", "## The answer in 30 seconds", *screen, "", text.similarity_note(metrics)]
        if agreement := text.agreement_note(_current(df)):
            parts += ["", agreement]
        parts += ["", text.MEMBERSHIP_NOTE, "", GLOSSARY]
    parts += detail
    parts += membership_section(root)
    parts += [
        "",
        text.INTRO,
        "",
        "## Zoo",
        "",
        tabulate(zoo_rows(committed_only=True), headers="keys", tablefmt="github", missingval="-"),
    ]
    external = df[df[C.EXTERNAL]] if not df.empty else df
    df = df[~df[C.EXTERNAL]] if not df.empty else df
    if df.empty:
        parts += ["", "## Attacks at the shared budget", "", "No run records yet."]
    else:
        current = df[df[C.STALE] == ""]
        for p in profiles(current) or [DEFAULT_PROFILE]:
            parts += ["", f"## Attacks at the shared budget{labels.get(p, '')}", ""]
            mine = of_profile(current, p)
            parts += borrowed_lines(mine, p)
            parts += _main_sections(mine[mine[C.SHIPPED]], out, p, labels.get(p, ""))
        parts += _section(
            "Other configurations",
            text.OTHER,
            leaderboard_table(current[~current[C.SHIPPED]]),
        )
        stale = df[df[C.STALE] != ""]
        if not stale.empty:
            reasons = stale.groupby([C.ATTACK, C.STALE]).size().reset_index(name="records")
            parts += _section(
                "Superseded records",
                text.SUPERSEDED,
                reasons,
            )
            parts += ["", _table(leaderboard_table(stale))]
    if not external.empty:
        parts += _section(
            "External models",
            text.EXTERNAL,
            leaderboard_table(external),
        )
    if not curves.empty:
        curves = curves[~curves[C.EXTERNAL]]
        for p in profiles(curves):
            parts += _curve_sections(of_profile(curves, p), out, p, labels.get(p, ""))
    if floors:
        parts += _section(
            "CI floors and mutations",
            text.FLOORS,
            floors_table(floors),
        )
    write_text_atomic(out / "leaderboard.md", "\n".join(parts) + "\n")
