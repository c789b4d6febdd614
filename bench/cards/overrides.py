"""Attack parameters set from the command line (`--set key=value`, sweep values), typed by the card.

The card's default fixes each parameter's type, so "3" becomes an int where the card holds an
int, "2.5" for an int parameter is refused rather than truncated, and non-finite numbers never
reach an attack. Every value is checked here, before any work starts.
"""

from __future__ import annotations

from typing import Any

from bench.cards import AttackCard, validate
from bench.errors import BenchError


def typed_value(acard: AttackCard, profile: str, key: str, text: str) -> Any:
    """``text`` as the type of the card's default for ``key``, checked by the card's own rules
    (``validate.attack_params``: known parameter, type, finite, within bounds)."""
    default = acard.params(profile).get(key, "")
    return validate.attack_params(acard, profile, {key: _scalar(default, key, text)})[key]


def _scalar(default: Any, key: str, text: str) -> Any:
    """The command-line text as the kind of value the default is; the card's checks do the rest."""
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise BenchError(f"{key} takes true or false, got {text!r}")
        return text.lower() == "true"
    if isinstance(default, int | float):
        # An integer literal stays exact: through float, 10**26 was recorded as 100…04764729344.
        try:
            return int(text) if isinstance(default, int) and _is_int_literal(text) else float(text)
        except ValueError:
            raise BenchError(f"{key} takes a number, got {text!r}") from None
    return text


def _is_int_literal(text: str) -> bool:
    return text.lstrip("+-").isdigit() and text.isascii()


def parse_sets(acard: AttackCard, profile: str, items: list[str] | None) -> dict[str, Any]:
    """``["key=value", …]`` from repeated ``--set`` flags, as typed overrides."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = typed_value(acard, profile, key.strip(), text.strip())
    return out
