"""Weakened attacks, each with one mechanism switched off, for CI's floor check to catch.

A floor that an attack with its mechanism removed still clears measures nothing about the
mechanism. Each mutation here is a context manager that breaks one thing the attack's paper relies
on; `bench floors` records which of them its floors catch, and the test suite fails unless they
are caught. Defined once, so the documented result and the enforced one cannot drift apart.

Mutations that only change parameters (SIDE's λ = 0) are declared by the attack card under
``[mechanism_off]``; those that break code (a flipped gradient, a disabled filter) live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import torch

from bench.attacks.carlini import Carlini
from bench.attacks.classifier import ClassifierGuidance
from bench.attacks.cliques import Clique
from bench.attacks.side import Side
from bench.attacks.text_conditional import TextConditional
from bench.cards import AttackCard


def _overriding(values: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """A card's ``[mechanism_off]`` entry as a mutation: the run's parameters with ``values``."""

    @contextmanager
    def mutate(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {**overrides, **values}

    return mutate


@contextmanager
def _flipped_gradient(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    original = ClassifierGuidance.log_prob_grad

    def flipped(self: ClassifierGuidance, *args: torch.Tensor) -> torch.Tensor:
        return -original(self, *args)

    with mock.patch.object(ClassifierGuidance, "log_prob_grad", flipped):
        yield overrides


@contextmanager
def _time_independent(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with mock.patch.object(Side, "time_dependent", False):
        yield overrides


@contextmanager
def _no_clique_filter(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every generation becomes a candidate, in generation order: the filter ranks nothing."""

    def every_output(images: Any, *_: Any) -> list[Clique]:
        return [Clique((i,), 0.0, i) for i in range(len(images))]

    with (
        mock.patch("bench.attacks.carlini.find_cliques", every_output),
        mock.patch("bench.attacks.text_conditional.find_cliques", every_output),
    ):
        yield overrides


Mutation = Callable[[dict[str, Any]], Any]

# Which code mutations apply to which attack implementation.
MUTATIONS: dict[type, dict[str, Mutation]] = {
    Side: {
        "gradient sign flipped": _flipped_gradient,
        "time-independent classifier": _time_independent,
    },
    Carlini: {"clique filter off": _no_clique_filter},
    TextConditional: {"clique filter off": _no_clique_filter},
}


def mutations_for(attack: object, acard: AttackCard) -> dict[str, Mutation]:
    """The card's parameter mutations, then those of ``attack``'s implementation (side-ti is a
    Side without time, so it has no time-independent mutation)."""
    found = {name: _overriding(values) for name, values in acard.mechanism_off.items()}
    for cls, code in MUTATIONS.items():
        if isinstance(attack, cls):
            found.update(code)
    if not getattr(attack, "time_dependent", True):
        found.pop("time-independent classifier", None)
    return found
