"""The leaderboard's profiles: which ran, how a heading names one, and what one borrows.

Each profile (cpu's 16×16 zoo, cpu32's 32×32 one, cpu64's 64×64 one, the GPU paper profile)
differs in resolution and training budget, so its rows are reported in sections of their own and
never ranked against another profile's.
"""

from __future__ import annotations

import pandas as pd

from bench.cards import attack_card, model_cards

# cpu64 first: its 64×64 zoo is where SSCD means what SIDE's paper means (issue #32).
PROFILE_ORDER = ("cpu64", "cpu", "cpu32", "paper")


def profiles(*frames: pd.DataFrame) -> list[str]:
    """The profiles the records ran under, in ``PROFILE_ORDER`` (others after it, by name)."""
    found = {p for f in frames if not f.empty for p in f["profile"].unique()}
    rank = {p: i for i, p in enumerate(PROFILE_ORDER)}
    return sorted(found, key=lambda p: (rank.get(p, len(rank)), p))


def profile_label(profile: str) -> str:
    """`` (cpu32 profile, 32×32)``: a heading's suffix naming a profile and its resolution."""
    sides = sorted({c.resolution for c in model_cards() if c.profile == profile})
    res = "/".join(f"{s}×{s}" for s in sides)
    return f" ({profile} profile{', ' + res if res else ''})"


def borrowed_lines(frame: pd.DataFrame, profile: str) -> list[str]:
    """Lines naming the attacks whose defaults for ``profile`` are another profile's."""
    if frame.empty:
        return []
    lent = {}
    for name in sorted(frame["attack"].unique()):
        source = attack_card(name).defaults_from.get(profile)
        if source is not None:
            lent.setdefault(source, []).append(name)
    return [
        f"The {profile} profile has no tuning model of its own: {', '.join(names)} run with "
        f"their cards' {source} defaults (`[defaults_from]`).\n"
        for source, names in lent.items()
    ]


def of_profile(frame: pd.DataFrame, profile: str) -> pd.DataFrame:
    """The rows of one profile."""
    return frame[frame["profile"] == profile] if not frame.empty else frame
