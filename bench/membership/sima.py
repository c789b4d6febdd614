"""SimA (Rao et al., "Score-based Membership Inference on Diffusion Models", arXiv:2509.25003,
2025): one query, the norm of the denoiser's output at the clean image.

Threat model: gray-box, 1 query per image. The expected denoiser output points to a kernel-weighted
local mean of nearby training images, so at a member, which is its own nearest training image, the
predicted noise is small: score = −‖ε̂_θ(x₀, t)‖/√d, the image itself fed at timestep t with no noise
added. Deterministic: the seed plays no part. The zoo's x₀ output is converted to ε (``queries``).
"""

from __future__ import annotations

import torch

from bench.membership.base import MembershipMethod, per_image
from bench.membership.queries import Queries


class SimA(MembershipMethod):
    threat_model = "gray-box"

    def __init__(self, t: int) -> None:
        self.t = int(t)

    def queries_per_image(self) -> int:
        return 1

    def score(self, q: Queries, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _, eps = q.x0_eps(x0, self.t)
        return -per_image(eps**2).sqrt()
