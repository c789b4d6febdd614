"""What an attack declares about itself, read from its class without running it.

Generic code (the summary, the leaderboard, floors, sweeps) never names an attack: it asks the
class a record's card names for its diagnostics, floor metrics, summary lines and mutations
(``Attack.diagnostics`` and friends), so a new attack's card and class are all the suite needs.
"""

from __future__ import annotations

import functools
from typing import Any

from bench.attacks.base import Attack, implementation_class
from bench.cards import AttackCard, attack_card
from bench.errors import BenchError


def attack_class(card: AttackCard) -> type[Attack]:
    """The ``module:Class`` a card names, checked to be an ``Attack`` subclass."""
    return _class(card.implementation, card.path)


@functools.cache
def _class(implementation: str, path: Any) -> type[Attack]:
    return implementation_class(implementation, path)


def class_of(attack: str) -> type[Attack] | None:
    """The class of the attack card named ``attack``; None when the card (or its class) is gone,
    as for a superseded record whose attack was removed."""
    try:
        return attack_class(attack_card(attack))
    except BenchError:
        return None


def diagnostics(attack: str, info: dict[str, Any] | None) -> tuple[str, str, dict[str, float]]:
    """(section title, section text, columns) of a record's diagnostics; empty columns when its
    attack declares none or the record does not carry them."""
    cls = class_of(attack)
    if cls is None or not info:
        return "", "", {}
    return cls.diagnostics_title, cls.diagnostics_text, cls.diagnostics(info)


def floor_metrics(attack: str) -> tuple[str, ...]:
    """The mechanism metrics the attack's class asks CI to floor."""
    cls = class_of(attack)
    return cls.floor_metrics if cls is not None else ()


def summary_lines(attack: str, info: dict[str, Any] | None) -> list[str]:
    cls = class_of(attack)
    return cls.summary_lines(info or {}) if cls is not None else []


def records_note(attack: str, infos: list[dict[str, Any]]) -> str:
    """The attack's own clause about its mechanism across records (``Attack.records_note``)."""
    cls = class_of(attack)
    return cls.records_note([i for i in infos if i]) if cls is not None else ""
