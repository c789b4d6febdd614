"""Membership method cards (``membership/*.toml``): the registry, typed, like the attack cards.

A card names its class (``module:Class``), its paper, its threat model (which must be the one the
class declares), its default parameters and, per parameter, the source of the value ("paper: …"
or "suite's choice: …"), and the one parameter ``bench mia tune`` sweeps with the values it tries.
Folders on ``BENCH_CARDS`` add cards of their own (a ``membership/`` folder beside their
``attacks/``), so a user adds a method without editing the suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.attacks.base import _import
from bench.cards.registry import load_cards, lookup
from bench.errors import BenchError
from bench.membership.base import THREAT_MODELS, MembershipMethod

KIND = "membership"


@dataclass(frozen=True)
class MethodCard:
    name: str
    version: int
    implementation: str
    paper: str
    threat_model: str
    defaults: dict[str, Any]
    sources: dict[str, str]
    sweep_param: str
    sweep_values: list[Any]
    path: Path

    def params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        unknown = sorted(set(overrides or {}) - set(self.defaults))
        if unknown:
            raise BenchError(
                f"method {self.name} has no parameter {unknown[0]!r}; it takes "
                f"{', '.join(sorted(self.defaults))}"
            )
        return {**self.defaults, **(overrides or {})}


def method_names() -> list[str]:
    return sorted(load_cards(KIND))


def method_card(name: str) -> MethodCard:
    path, raw = lookup(KIND, name, "membership method")
    missing = [k for k in ("implementation", "paper", "threat_model", "defaults") if k not in raw]
    if missing:
        raise BenchError(f"membership card {path} lacks {', '.join(missing)}")
    if raw["threat_model"] not in THREAT_MODELS:
        raise BenchError(
            f"membership card {path}: threat_model {raw['threat_model']!r} is not one of "
            f"{', '.join(THREAT_MODELS)}"
        )
    undocumented = sorted(set(raw["defaults"]) - set(raw.get("sources", {})))
    if undocumented:
        raise BenchError(f"membership card {path}: parameter {undocumented[0]!r} has no source")
    sweep = raw.get("sweep", {})
    return MethodCard(
        name=raw["name"],
        version=int(raw["version"]),
        implementation=raw["implementation"],
        paper=raw["paper"],
        threat_model=raw["threat_model"],
        defaults=dict(raw["defaults"]),
        sources=dict(raw["sources"]),
        sweep_param=sweep.get("param", ""),
        sweep_values=list(sweep.get("values", [])),
        path=path,
    )


def method_class(card: MethodCard) -> type[MembershipMethod]:
    module_name, _, cls_name = card.implementation.partition(":")
    cls = getattr(_import(module_name, card.implementation, card.path), cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, MembershipMethod)):
        raise BenchError(
            f"membership card {card.path} names {card.implementation}, which is not a "
            "bench.membership.base.MembershipMethod subclass"
        )
    if cls.threat_model != card.threat_model:
        raise BenchError(
            f"membership card {card.path} says {card.threat_model}, but {cls.__name__} declares "
            f"{cls.threat_model}"
        )
    return cls


def build_method(card: MethodCard, params: dict[str, Any]) -> MembershipMethod:
    return method_class(card)(**params)


def parse_value(card: MethodCard, key: str, text: str) -> Any:
    """``--set key=value`` typed by the card's default: an int, a float, or a list of ints
    written ``50,100``."""
    card.params({key: None})  # refuses a parameter the card does not have
    default = card.defaults[key]
    try:
        if isinstance(default, list):
            value = [int(v) for v in text.split(",") if v.strip()]
        else:
            value = int(text) if isinstance(default, int) else float(text)
    except ValueError:
        raise BenchError(f"{key} takes a value like {default!r}, got {text!r}") from None
    values = value if isinstance(value, list) else [value]
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise BenchError(f"{key} takes finite values ≥ 0, got {text!r}")
    return value
