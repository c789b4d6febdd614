"""Weakened attacks, each with one mechanism switched off, for CI's floor check to catch.

A floor that an attack with its mechanism removed still clears measures nothing about the
mechanism. Each mutation breaks one thing the attack's paper relies on; `bench floors` records
which of them its floors catch, and the test suite fails unless they are caught. Defined once, so
the documented result and the enforced one cannot drift apart.

Mutations that only change parameters (SIDE's λ = 0) are the card's ``off`` values
(``[params.<name>] off = { "name" = value }``); those that break code (a flipped gradient, a
disabled filter) are declared by the attack class itself (``Attack.mutations``), beside the code
they break, and replace one of the attack's own mechanism attributes on one instance, so a new
attack gets its mutations without an edit here and a renamed module cannot turn one into a
no-op. The helpers that several attacks share live here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.attacks.base import Attack
from bench.attacks.cliques import Clique, CliqueSearch
from bench.cards import AttackCard
from bench.errors import BenchError


@dataclass(frozen=True)
class Mutation:
    """One mechanism switched off: parameter values run on top of the cell's (a card's ``off``
    values) and/or code that replaces a mechanism attribute of the loaded attack."""

    params: Mapping[str, Any] = field(default_factory=dict)
    code: Callable[[Attack], None] | None = None

    def apply(self, attack: Attack) -> Attack:
        """``attack`` with the code mutation applied (the instance itself, changed)."""
        if self.code is not None:
            self.code(attack)
        return attack


def every_output(images: np.ndarray, *_: Any) -> CliqueSearch:
    """A candidate filter that ranks nothing: every generation is a candidate, in order."""
    return CliqueSearch(tuple(Clique((i,), 0.0, i) for i in range(len(images))))


def no_clique_filter(attack: Attack) -> None:
    """The attack's clique filter (its ``candidate_filter``) replaced by ``every_output``."""
    if not hasattr(attack, "candidate_filter"):
        raise BenchError(f"{type(attack).__name__} has no candidate_filter to switch off")
    attack.candidate_filter = every_output


def mutations_for(cls: type[Attack], acard: AttackCard) -> dict[str, Mutation]:
    """The card's parameter mutations, then those the attack's class declares."""
    found = {name: Mutation(params=values) for name, values in acard.mechanism_off.items()}
    found.update({name: Mutation(code=code) for name, code in cls.mutations().items()})
    return found


def mutation(cls: type[Attack], acard: AttackCard, name: str) -> Mutation:
    """The attack's mutation called ``name``; one line naming the valid ones if there is none."""
    found = mutations_for(cls, acard)
    if name not in found:
        raise BenchError(
            f"attack {acard.name} has no mutation {name!r}; its mutations: "
            f"{', '.join(found) or '(none)'}"
        )
    return found[name]
