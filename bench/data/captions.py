"""Deterministic captions written from CelebA's 40 binary attributes.

The text-conditional threat model assumes the attacker knows training captions, as Carlini et al.
assumed for LAION; writing them from attributes gives CelebA the same structure, including the
"duplicated prompts" that several images share.
"""

from __future__ import annotations

import numpy as np

HAIR_COLOURS = (
    ("Black_Hair", "black"),
    ("Blond_Hair", "blond"),
    ("Brown_Hair", "brown"),
    ("Gray_Hair", "grey"),
)
WEARING = (
    ("Eyeglasses", "glasses"),
    ("Wearing_Hat", "a hat"),
    ("Wearing_Earrings", "earrings"),
    ("Wearing_Necklace", "a necklace"),
    ("Wearing_Lipstick", "lipstick"),
)


def caption(attrs: dict[str, bool]) -> str:
    """One caption, e.g. 'a smiling young woman with wavy blond hair, wearing earrings'."""
    words = ["a"]
    if attrs["Smiling"]:
        words.append("smiling")
    words.append("young" if attrs["Young"] else "older")
    words.append("man" if attrs["Male"] else "woman")
    hair = [name for key, name in HAIR_COLOURS if attrs[key]]
    texture = "wavy" if attrs["Wavy_Hair"] else "straight" if attrs["Straight_Hair"] else ""
    text = " ".join(words)
    if attrs["Bald"]:
        text += " who is bald"
    elif hair or texture:
        text += " with " + " ".join(w for w in (texture, hair[0] if hair else "") if w) + " hair"
    extras = []
    if attrs["Bangs"]:
        extras.append("bangs")
    if attrs["Male"] and not attrs["No_Beard"]:
        extras.append("a beard")
    if attrs["Mustache"]:
        extras.append("a mustache")
    if attrs["Heavy_Makeup"]:
        extras.append("heavy makeup")
    if extras:
        text += (" and " if (hair or texture or attrs["Bald"]) else " with ") + ", ".join(extras)
    worn = [name for key, name in WEARING if attrs[key]]
    if worn:
        text += ", wearing " + " and ".join(worn)
    if attrs["Mouth_Slightly_Open"]:
        text += ", mouth open"
    return text


def captions_for(attribute_names: tuple[str, ...], rows: np.ndarray) -> list[str]:
    return [caption({n: bool(v > 0) for n, v in zip(attribute_names, row)}) for row in rows]
