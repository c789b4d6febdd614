"""What a membership method implements: a score per image from queries to the denoiser.

A method class takes its card's parameters as keyword arguments, opens its docstring with its
paper and threat model, says how many UNet evaluations it spends per image
(``queries_per_image``), and maps a batch of clean images to one score each, higher meaning
"more likely a member". It never sees which images are members: the track holds the labels.
Randomness (the loss's noise) comes only from the generator it is given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from bench.membership.queries import Queries

# Gray-box: the attacker queries the denoiser's output at chosen inputs and timesteps (SecMI's
# and PIA's term), without gradients or weights. White-box would add those.
THREAT_MODELS = ("gray-box", "white-box")


class MembershipMethod(ABC):
    threat_model: ClassVar[str] = "gray-box"
    # Whether the score draws noise from its generator (the seed matters), or is a function of
    # the image and the model alone (scored once per tuning value, whatever the seed).
    stochastic: ClassVar[bool] = False

    @abstractmethod
    def queries_per_image(self) -> int:
        """UNet evaluations the method spends on one image."""

    @abstractmethod
    def score(self, q: Queries, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One score per image of ``x0`` (float NCHW in [-1, 1]); higher reads as member."""


def per_image(x: torch.Tensor) -> torch.Tensor:
    """The mean over every axis but the first: a per-image average of an elementwise error."""
    return x.flatten(1).mean(1)
