"""The denoising loss at chosen timesteps (Matsumoto et al., "Membership Inference Attacks
against Diffusion Models", IEEE SPW 2023; Carlini et al., "Extracting Training Data from
Diffusion Models", USENIX Security 2023, §5).

Threat model: gray-box, one query per timestep. A member was fitted, so the model predicts the
noise added to it better than to an unseen image: score = −mean over t of ‖ε̂_θ(x_t, t) − ε‖²/d,
with x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε and ε drawn from the run's seeded generator. The zoo predicts x₀,
so ε̂ is converted (``queries``); the ε error is the x₀ error scaled by √ᾱ_t/√(1−ᾱ_t), so at one t
the ranking is the same either way, and over several t the ε form weights them as the papers do.
"""

from __future__ import annotations

import torch

from bench.membership.base import MembershipMethod, per_image
from bench.membership.queries import Queries


class Loss(MembershipMethod):
    threat_model = "gray-box"
    stochastic = True

    def __init__(self, timesteps: list[int]) -> None:
        self.timesteps = [int(t) for t in timesteps]

    def queries_per_image(self) -> int:
        return len(self.timesteps)

    def score(self, q: Queries, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        total = torch.zeros(len(x0), device=x0.device)
        for t in self.timesteps:
            eps = torch.randn(x0.shape, generator=generator).to(x0.device)
            _, predicted = q.x0_eps(q.noised(x0, eps, t), t)
            total += per_image((predicted - eps) ** 2)
        return -total / len(self.timesteps)
