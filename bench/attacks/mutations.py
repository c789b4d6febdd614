"""Weakened attacks, each with one mechanism switched off, for CI's floor check to catch.

A floor that an attack with its mechanism removed still clears measures nothing about the
mechanism. Each mutation is a context manager that breaks one thing the attack's paper relies
on; `bench floors` records which of them its floors catch, and the test suite fails unless they
are caught. Defined once, so the documented result and the enforced one cannot drift apart.

Mutations that only change parameters (SIDE's λ = 0) are declared by the attack card under
``[mechanism_off]``; those that break code (a flipped gradient, a disabled filter) are declared
by the attack class itself (``Attack.mutations``), beside the code they break. The helpers that
several attacks share live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from bench.attacks.cliques import Clique
from bench.cards import AttackCard

Mutation = Callable[[dict[str, Any]], Any]


def _overriding(values: dict[str, Any]) -> Mutation:
    """A card's ``[mechanism_off]`` entry as a mutation: the run's parameters with ``values``."""

    @contextmanager
    def mutate(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {**overrides, **values}

    return mutate


@contextmanager
def no_clique_filter(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every generation becomes a candidate, in generation order: the filter ranks nothing."""

    def every_output(images: Any, *_: Any) -> list[Clique]:
        return [Clique((i,), 0.0, i) for i in range(len(images))]

    with (
        mock.patch("bench.attacks.carlini.find_cliques", every_output),
        mock.patch("bench.attacks.text_conditional.find_cliques", every_output),
    ):
        yield overrides


def mutations_for(attack: object, acard: AttackCard) -> dict[str, Mutation]:
    """The card's parameter mutations, then those ``attack``'s class declares."""
    found = {name: _overriding(values) for name, values in acard.mechanism_off.items()}
    declared = getattr(type(attack), "mutations", None)
    if declared is not None:
        found.update(declared())
    return found
