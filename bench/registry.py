"""A small registry over the card folders: lazy, strict and helpful.

Modelled on lm-evaluation-harness: names are unique, every card declares a version, and an unknown
name is answered with the list of valid ones instead of a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.errors import BenchError
from bench.paths import card_dirs
from bench.validate import non_finite_path, valid_name


def read_toml(path: Path) -> dict[str, Any]:
    """A card's table; TOML allows ``nan`` and ``inf``, a card value never may."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"card {path} is not valid TOML: {exc}") from None
    bad = non_finite_path(raw)
    if bad:
        raise BenchError(f"card {path} sets {bad} to a non-finite number; card values are finite")
    return raw


def load_cards(kind: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """All cards of one kind, by name, from every card folder; refuses a name defined twice (in
    one folder or two) and cards without a version."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    paths = [p for folder in card_dirs(kind) for p in sorted(folder.glob("*.toml"))]
    for path in paths:
        raw = read_toml(path)
        name = raw.get("name")
        if not name or "version" not in raw:
            raise BenchError(f"card {path} must declare both 'name' and 'version'")
        try:  # a card's name becomes folder and file names (runs/<model>/…)
            valid_name(name, "its name")
        except BenchError as exc:
            raise BenchError(f"card {path}: {exc}") from None
        if name in found:
            raise BenchError(f"two {kind} cards are named {name!r}: {found[name][0]} and {path}")
        found[name] = (path, raw)
    return found


def lookup(kind: str, name: str, what: str | None = None) -> tuple[Path, dict[str, Any]]:
    cards = load_cards(kind)
    if name not in cards:
        valid = ", ".join(sorted(cards)) or "(none)"
        raise BenchError(f"unknown {what or kind[:-1]} {name!r}; valid: {valid}")
    return cards[name]
