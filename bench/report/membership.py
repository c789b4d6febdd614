"""The leaderboard's membership-inference section: one compact table from the committed records.

``reports/membership.md`` holds the track in full (protocol, methods, tiers, tuning, floors, how
inference meets extraction); the leaderboard gets only the headline a reader compares across the
zoo: per ranked model and method, AUC and TPR at 1% FPR with their bootstrap intervals. A pair
with no record is shown as a gap, never left out, so the table says what was not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.cards import model_card
from bench.membership import store
from bench.membership.cards import method_names
from bench.membership.report import flipped
from bench.membership.score import ranked_models

GAP = "not run"
TEXT = (
    "Each cell: AUC and, after the dot, TPR at 1% FPR, each with its 95% bootstrap interval; "
    "thresholds and the score's direction are fitted on one half of members and held-out "
    "non-members and applied to the other, over three split seeds. AUC 0.5 is chance; ↓: the "
    "score ran against its paper's direction on some split; *not run*: a gap. Protocol, methods, "
    "duplicate tiers, tuning, floors and how inference meets extraction: `reports/membership.md`."
)


def cell(record: dict[str, Any] | None) -> str:
    """``AUC [lo–hi] · TPR [lo–hi]`` of one record, or the gap mark."""
    if record is None:
        return GAP
    m = record["metrics"]
    a, t = m["auc"], m["tpr@0.01"]
    tpr = f"{t['mean']:.2f} [{t['lo']:.2f}–{t['hi']:.2f}]" if t else "n/a"
    mark = " ↓" if flipped(record) else ""
    return f"{a['mean']:.3f} [{a['lo']:.3f}–{a['hi']:.3f}] · {tpr}{mark}"


def membership_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """One row per ranked model (by resolution, then name), one cell per method card."""
    by = {(r["model"], r["method"]): r for r in records}
    models = sorted(ranked_models(), key=lambda m: (model_card(m).resolution, m))
    return [
        [m, str(model_card(m).resolution), *(cell(by.get((m, n))) for n in method_names())]
        for m in models
    ]


def membership_section(root: Path) -> list[str]:
    """The section's lines, empty where the results root holds no membership record."""
    records = store.runs(root)
    if not records:
        return []
    table = tabulate(
        membership_rows(records),
        headers=["model", "px", *method_names()],
        tablefmt="github",
        disable_numparse=True,
    )
    return ["", "## Membership inference on the zoo", "", TEXT, "", table]
