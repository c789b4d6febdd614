"""The checks every number from a user or a card passes before any work starts.

Bad numbers do not fail on their own: a NaN guidance scale turned every output black and still
wrote a record, and `int()` quietly truncates a fractional budget. So the command-line types, the
card loader and `run_cell` all check through here, by the same rules, and a bad value is one line.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.cards import AttackCard

SEED_LIMIT = 2**32  # per-batch generators are seeded with seed × 1,000,003 + batch (< 2**64)
# Suite's choice: ten times the paper profile's N_G (5,120). A budget above it is almost always a
# typo (10^12 outputs would take centuries here), so it needs --force, and the run's time and disk
# estimate is printed before it starts.
BUDGET_LIMIT = 51_200
INT64_LIMIT = 2**63  # every integer parameter reaches numpy or torch as an int64
# A name becomes a file and folder name (models/<name>.toml, runs/<name>/…): one path component.
# Longer names would make file names (<name>.safetensors, records' folders) past 255 bytes.
NAME_LIMIT = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN or infinity in nested dicts and lists, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path or "value"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite_path(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def _bounds_text(low: float | None, high: float | None) -> str:
    if high is None:
        return f"≥ {low:g}"
    if low is None:
        return f"≤ {high:g}"
    return f"in [{low:g}, {high:g}]"


def number(
    value: Any, what: str, low: float | None = None, high: float | None = None
) -> int | float:
    """``value`` when it is a finite int or float within [low, high]; a one-line error if not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BenchError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise BenchError(f"{what} must be finite, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BenchError(f"{what} must be {_bounds_text(low, high)}, got {value:g}")
    return value


def integer(value: Any, what: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int when it is a whole number within [low, high] (3.0 counts as 3)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchError(f"{what} must be an integer, got {value!r}")
    if abs(value) >= INT64_LIMIT:  # numpy and torch would overflow (or refuse) it far from here
        raise BenchError(f"{what} must be below 2**63 in size, got {value}")
    return int(number(value, what, low, high))


def seed(value: Any) -> int:
    return integer(value, "the seed", 0, SEED_LIMIT - 1)


def budget(value: Any) -> int:
    return integer(value, "the output budget N_G", 1)


def budget_allowed(value: int, force: bool = False) -> int:
    """``value`` unless it is above ``BUDGET_LIMIT`` and ``force`` was not given: the command
    line's guard against a run no machine finishes, checked before any work starts."""
    if value > BUDGET_LIMIT and not force:
        raise BenchError(
            f"the output budget N_G {value:,} is above the suite's limit of {BUDGET_LIMIT:,} "
            "(ten times the paper's N_G); pass --force to run it anyway"
        )
    return value


def valid_name(value: Any, what: str) -> str:
    """``value`` when it can name a card and its files: letters, digits, '.', '-' and '_', not
    starting with '.' or '-', so no '/', '\\' or '..' can reach a path built from it."""
    if (
        not isinstance(value, str)
        or not _NAME.fullmatch(value)
        or ".." in value
        or len(value) > NAME_LIMIT
    ):
        raise BenchError(
            f"{what} {str(value)[:40]!r} is not a valid name: use at most {NAME_LIMIT} letters, "
            "digits, '.', '-' and '_' (no path separators or '..'), since it names files such "
            "as models/<name>.toml"
        )
    return value


def _like(default: Any, value: Any, what: str) -> Any:
    """``value`` in the type of the card default it replaces, so 5 and 5.0 hash the same."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise BenchError(f"{what} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        return integer(value, what)
    if isinstance(default, float):
        return float(number(value, what))
    if not isinstance(value, type(default)):
        raise BenchError(f"{what} must be a {type(default).__name__}, got {value!r}")
    return value


def attack_params(
    card: AttackCard, profile: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The card's parameters for a profile with ``overrides`` applied, every value checked.

    The card's own values pass the same bounds as overrides (each parameter's ``min`` and
    ``max``), so a bad card fails here too.
    """
    params = card.params(profile)
    for name, value in (overrides or {}).items():
        if name not in params:
            raise BenchError(
                f"attack {card.name} has no parameter {name!r}; its parameters: {', '.join(params)}"
            )
        params[name] = _like(params[name], value, f"{card.name} parameter {name}")
    for name, value in params.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            number(value, f"{card.name} parameter {name}", *card.bounds.get(name, (None, None)))
    return params
