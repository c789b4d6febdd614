"""Attack parameters set from the command line (`--set key=value`, sweep values), typed by the card.

The card's default fixes each parameter's type, so "3" becomes an int where the card holds an
int, "2.5" for an int parameter is refused rather than truncated, and non-finite numbers never
reach an attack. Every value is checked here, before any work starts.
"""

from __future__ import annotations

import math
from typing import Any

from bench import validate
from bench.cards import AttackCard
from bench.errors import BenchError


def typed_value(acard: AttackCard, profile: str, key: str, text: str) -> Any:
    """``text`` as the type of the card's default for ``key``, within the parameter's bounds."""
    return validate.attack_params(acard, profile, {key: _parsed(acard, profile, key, text)})[key]


def _parsed(acard: AttackCard, profile: str, key: str, text: str) -> Any:
    params = acard.params(profile)
    if key not in params:
        raise BenchError(
            f"attack {acard.name} has no parameter {key!r}; its parameters: {', '.join(params)}"
        )
    default = params[key]
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise BenchError(f"{key} takes true or false, got {text!r}")
        return text.lower() == "true"
    if isinstance(default, int | float):
        try:
            number = float(text)
        except ValueError:
            raise BenchError(f"{key} takes a number, got {text!r}") from None
        if not math.isfinite(number):
            raise BenchError(f"{key} must be finite, got {text!r}")
        if isinstance(default, int):
            if number != int(number):
                raise BenchError(f"{key} takes integers, got {text!r}")
            return int(number)
        return number
    return text


def parse_sets(acard: AttackCard, profile: str, items: list[str] | None) -> dict[str, Any]:
    """``["key=value", …]`` from repeated ``--set`` flags, as typed overrides."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = typed_value(acard, profile, key.strip(), text.strip())
    return out
