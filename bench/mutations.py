"""Weakened attacks, each with one mechanism switched off, for CI's floor check to catch.

A floor that an attack with its mechanism removed still clears measures nothing about the
mechanism. Each mutation here is a context manager that breaks one thing the attack's paper relies
on; `bench floors` records which of them its floors catch, and the test suite fails unless they
are caught. Defined once, so the documented result and the enforced one cannot drift apart.
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


@contextmanager
def _no_guidance(overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {**overrides, "guidance_scale": 0.0}


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

    with mock.patch("bench.attacks.carlini.find_cliques", every_output):
        yield overrides


Mutation = Callable[[dict[str, Any]], Any]

# Which mutations apply to which attack implementation.
MUTATIONS: dict[type, dict[str, Mutation]] = {
    Side: {
        "guidance off (λ = 0)": _no_guidance,
        "gradient sign flipped": _flipped_gradient,
        "time-independent classifier": _time_independent,
    },
    Carlini: {"clique filter off": _no_clique_filter},
}


def mutations_for(attack: object) -> dict[str, Mutation]:
    """The mutations of ``attack``'s implementation (side-ti is a Side without time)."""
    for cls, found in MUTATIONS.items():
        if isinstance(attack, cls):
            if not getattr(attack, "time_dependent", True):
                return {k: v for k, v in found.items() if k != "time-independent classifier"}
            return found
    return {}
