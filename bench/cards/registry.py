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

from bench.cards.cardfile import check_card
from bench.cards.validate import non_finite_path, valid_name
from bench.errors import BenchError
from bench.utils.paths import card_dirs

_parsed: dict[tuple[Path, str], tuple[tuple[int, int, int, int], dict[str, Any]]] = {}


def _stamp(path: Path) -> tuple[int, int, int, int]:
    try:
        st = path.stat()
    except OSError as exc:  # a dangling link named *.toml, a file removed since it was listed
        raise BenchError(f"card {path} is not a file ({exc.strerror})") from None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def cached_toml(path: Path, kind: str) -> dict[str, Any]:
    """``read_toml(path, kind)``, parsed again only when the file changed since it was last parsed.

    Each caller gets its own deep copy, so a caller that edits a table (a diffusers ``from_config``
    may) cannot change what the next lookup sees; copying costs a small fraction of parsing.
    """
    stamp = _stamp(path)
    hit = _parsed.get((path, kind))
    if hit is None or hit[0] != stamp:
        hit = _parsed[path, kind] = (stamp, read_toml(path, kind))
    return copy.deepcopy(hit[1])


def read_toml(path: Path, kind: str | None = None) -> dict[str, Any]:
    """A card's table, checked against the schema of its ``kind`` (``bench.cards.cardfile``)
    where given; TOML allows ``nan`` and ``inf``, a card value never may."""
    if not path.is_file():  # a folder or a dangling link named *.toml
        raise BenchError(f"card {path} is not a file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise BenchError(f"card {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BenchError(f"card {path} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise BenchError(f"card {path} is not valid TOML: {exc}") from None
    bad = non_finite_path(raw)
    if bad:
        raise BenchError(f"card {path} sets {bad} to a non-finite number; card values are finite")
    if kind is not None:
        check_card(kind, raw, path)
    return raw


def load_cards(kind: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """All cards of one kind, by name, from every card folder; refuses a name defined twice (in
    one folder or two) and cards without a version."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    paths = [p for folder in card_dirs(kind) for p in sorted(folder.glob("*.toml"))]
    for path in paths:
        raw = cached_toml(path, kind)
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
