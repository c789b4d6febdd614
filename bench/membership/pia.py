"""PIA (Kong et al., "An Efficient Membership Inference Attack for the Diffusion Model by
Proximal Initialization", ICLR 2024).

Threat model: gray-box, 2 queries per image. The model's own output at t = 0, ε₀ = ε̂_θ(x₀, 0),
serves as the noise: x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε₀, and a member's trajectory is regular enough that
ε̂_θ(x_t, t) returns ε₀: score = −mean |ε̂_θ(x_t, t) − ε₀|^p. Deterministic: the seed plays no part.
For the zoo's x₀-predicting models ε₀ = (x₀ − √ᾱ₀ x̂₀)/√(1−ᾱ₀) is the model's residual at t = 0
amplified by 1/√β₀ (``queries``); it is the ε an ε-predicting twin would output. The
conversion is exact down to t = 0 (an ε-twin and an x₀-twin score alike, to rounding times
1/√β₀: ``tests/test_membership.py``), so where PIA trails on the zoo it is not the conversion.
The suspect left is the parametrisation itself (untested): an x₀ model is fitted on x₀ errors, and
ε₀ reads its tiny t = 0 residual ×100, where an ε model is fitted on ε₀ directly.
"""

from __future__ import annotations

import torch

from bench.membership.base import MembershipMethod, per_image
from bench.membership.queries import Queries


class PIA(MembershipMethod):
    threat_model = "gray-box"

    def __init__(self, t: int, p: float) -> None:
        self.t, self.p = int(t), float(p)

    def queries_per_image(self) -> int:
        return 2

    def score(self, q: Queries, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _, eps0 = q.x0_eps(x0, 0)
        _, predicted = q.x0_eps(q.noised(x0, eps0, self.t), self.t)
        return -per_image((predicted - eps0).abs() ** self.p)
