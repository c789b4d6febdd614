"""The papers' claims the report judges, as typed objects read once from the attack cards.

The cards hold claims as TOML tables (``[claims.margin]``, ``[claims.order]``,
``[claims.leaks_more]``); ``bench/cards`` keeps them as raw tables. They are validated here, when
the report first reads them, so every later reader gets a field with a type instead of a string
key, and a card with a malformed claim is one clear line (``BenchError``) naming the card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.cards import attack_card, attack_names
from bench.errors import BenchError


@dataclass(frozen=True)
class MarginClaim:
    """ "``attack`` ≥ ``factor`` × the better of ``baselines``" on distinct high-band members at
    equal N_G; new members are counted against ``new_against`` at the same seed."""

    by: str
    attack: str
    baselines: tuple[str, ...]
    factor: float
    new_against: str
    source: str

    @property
    def statement(self) -> str:
        return f"{self.attack} ≥ {self.factor:g}× the better of {', '.join(self.baselines)}"


@dataclass(frozen=True)
class OrderClaim:
    """A paper's strict order of attacks on UMS in every band."""

    by: str
    attacks: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class LeaksMoreClaim:
    """ "``card`` on its conditional model leaks more than ``than`` on the plain one"."""

    card: str
    by: str
    statement: str
    than: str
    verdict: str
    source: str


def _field(card: str, raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = tuple(value)
    if not isinstance(value, kind):
        raise BenchError(
            f"attack card {card!r}: claim field {key!r} must be a {kind.__name__}, got {value!r}"
        )
    return value


def _margin(card: str, raw: dict[str, Any]) -> MarginClaim:
    claim = MarginClaim(
        by=_field(card, raw, "by", str),
        attack=_field(card, raw, "attack", str),
        baselines=_field(card, raw, "baselines", tuple),
        factor=_field(card, raw, "factor", float),
        new_against=_field(card, raw, "new_against", str),
        source=_field(card, raw, "source", str),
    )
    if claim.factor < 1 or not claim.baselines:
        raise BenchError(f"attack card {card!r}: a margin claim needs factor ≥ 1 and a baseline")
    return claim


def _order(card: str, raw: dict[str, Any]) -> OrderClaim:
    attacks = _field(card, raw, "attacks", tuple)
    return OrderClaim(_field(card, raw, "by", str), attacks, _field(card, raw, "source", str))


def _leaks_more(card: str, raw: dict[str, Any]) -> LeaksMoreClaim:
    return LeaksMoreClaim(
        card,
        *(_field(card, raw, k, str) for k in ("by", "statement", "than", "verdict", "source")),
    )


C = TypeVar("C")


def _claims(kind: str, parse: Callable[[str, dict[str, Any]], C]) -> list[C]:
    return [
        parse(name, attack_card(name).claims[kind])
        for name in attack_names()
        if kind in attack_card(name).claims
    ]


def margin_claims() -> list[MarginClaim]:
    """Every card's ``[claims.margin]``, by card name."""
    return _claims("margin", _margin)


def order_claims() -> list[OrderClaim]:
    """Every card's ``[claims.order]``, by card name."""
    return _claims("order", _order)


def leaks_more_claims() -> list[LeaksMoreClaim]:
    """Every card's ``[claims.leaks_more]``, by card name."""
    return _claims("leaks_more", _leaks_more)
