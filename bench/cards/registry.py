"""A small registry over the card folders: lazy, strict and helpful.

Modelled on lm-evaluation-harness: names are unique, every card declares a version, and an unknown
name is answered with the list of valid ones instead of a traceback.

Parsed cards are cached by file identity (inode, size, modification time), so the report's ~600
lookups of attack, model and dataset cards read each TOML once, while a card rewritten on disk
(``bench zoo train`` writing its ``[trained]`` table, a test editing a card) is read again.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.cards.validate import non_finite_path, valid_name
from bench.errors import BenchError
from bench.utils.paths import card_dirs

_parsed: dict[Path, tuple[tuple[int, int, int, int], dict[str, Any]]] = {}


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def cached_toml(path: Path) -> dict[str, Any]:
    """``read_toml(path)``, parsed again only when the file changed since it was last parsed.

    Each caller gets its own deep copy, so a caller that edits a table (a diffusers ``from_config``
    may) cannot change what the next lookup sees; copying costs a small fraction of parsing.
    """
    stamp = _stamp(path)
    hit = _parsed.get(path)
    if hit is None or hit[0] != stamp:
        hit = _parsed[path] = (stamp, read_toml(path))
    return copy.deepcopy(hit[1])


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
        raw = cached_toml(path)
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
