"""The denoiser as a membership method sees it: ε and x̂₀ at a chosen timestep, counted.

The zoo's models predict x₀ (``prediction_type = "sample"``); SecMI, PIA, SimA and the loss are
stated for ε-prediction, so every output is converted with the model's own schedule:
x̂₀ from the output (``bench.zoo.sampling.predicted_x0``), then ε̂ = (x_t − √ᾱ_t x̂₀)/√(1−ᾱ_t).
The conversion is exact (it is how the model's sampler reads the output) and applies no clipping,
so a method sees the raw prediction. Each query costs one UNet evaluation per image, counted here so
a record's cost is what the method actually spent.
"""

from __future__ import annotations

import torch

from bench.zoo.denoiser import Denoiser
from bench.zoo.sampling import predicted_x0


class Queries:
    """One batch of clean images' queries to a denoiser (with their captions for a
    caption-conditional model), counting UNet evaluations (one per image per query)."""

    def __init__(self, denoiser: Denoiser, captions: list[str] | None = None) -> None:
        self.denoiser = denoiser
        self.captions = captions if denoiser.conditional else None
        self.abar = denoiser.scheduler.alphas_cumprod.to(denoiser.device, torch.float32)
        self.evaluations = 0

    @property
    def timesteps(self) -> int:
        return len(self.abar)

    def output(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        """The raw model output at timestep ``t`` (one evaluation per image)."""
        self.evaluations += len(x_t)
        steps = torch.full((len(x_t),), int(t), dtype=torch.long, device=x_t.device)
        return self.denoiser(x_t, steps, self.captions)

    def x0_eps(self, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂₀, ε̂) at timestep ``t``, converted from the model's prediction type."""
        a = self.abar[int(t)]
        out = self.output(x_t, t)
        kind = self.denoiser.prediction_type
        x0 = predicted_x0(out, x_t, a, kind)
        eps = out if kind == "epsilon" else (x_t - a.sqrt() * x0) / (1 - a).sqrt()
        return x0, eps

    def noised(self, x0: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
        """q(x_t | x₀) with the given noise: √ᾱ_t x₀ + √(1−ᾱ_t) ε."""
        a = self.abar[int(t)]
        return a.sqrt() * x0 + (1 - a).sqrt() * eps

    def ddim(self, x: torch.Tensor, t_from: int, t_to: int) -> torch.Tensor:
        """One deterministic DDIM step (η = 0) from ``t_from`` to ``t_to``: forward in t it is
        DDIM inversion, backward it is the sampler's step (Song et al. 2021, Eq. 12)."""
        x0, eps = self.x0_eps(x, t_from)
        return self.noised(x0, eps, t_to)


class BlindQueries(Queries):
    """A mutation: the same queries answered without the model (x̂₀ = 0 whatever the input), so
    any score it gives is a function of the image alone. CI's floors must catch it."""

    def output(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        self.evaluations += len(x_t)
        a = self.abar[int(t)]
        kind = self.denoiser.prediction_type
        if kind == "sample":
            return torch.zeros_like(x_t)
        if kind == "epsilon":  # the ε that makes x̂₀ = 0
            return x_t / (1 - a).sqrt()
        return x_t / (1 - a).sqrt() * a.sqrt()  # v-prediction: v = √ᾱ ε − √(1−ᾱ) x₀, x₀ = 0
