"""Membership method cards (``membership/*.toml``): the registry, typed, like the attack cards.

A card names its class (``module:Class``), its paper, its threat model (which must be the one the
class declares), its default parameters and, per parameter, the source of the value ("paper: …"
or "suite's choice: …"), the one parameter ``bench mia tune`` sweeps with the values it tries, and
what its paper publishes on DDPMs (``[published]``: each figure with its dataset, model, metric and
where it was read, and a note saying what was searched and not found), which the report sets beside
the measured figures; a figure no one could read at its source is not quoted.
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
FIGURE_FIELDS = ("dataset", "model", "metric", "value", "where")


@dataclass(frozen=True)
class Published:
    """One figure a method's paper reports, with where it was read (a table, or the listing
    it was taken from when the table itself could not be read)."""

    dataset: str
    model: str
    metric: str
    value: float
    where: str


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
    published: tuple[Published, ...] = ()
    published_note: str = ""

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
    published = raw.get("published", {})
    figures = published.get("figures", [])
    for figure in figures:
        lacking = [k for k in FIGURE_FIELDS if k not in figure]
        if lacking:
            raise BenchError(f"membership card {path}: a published figure lacks {lacking[0]!r}")
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
        published=tuple(Published(**{k: f[k] for k in FIGURE_FIELDS}) for f in figures),
        published_note=published.get("note", ""),
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
