"""SecMI (Duan et al., "Are Diffusion Models Vulnerable to Membership Inference Attacks?",
ICML 2023): the t-error of deterministic DDIM steps, SecMI_stat.

Threat model: gray-box, t/k + 2 queries per image. From x₀, DDIM inversion in steps of k reaches
x̃_t (t/k queries); one more inversion step gives x̃_{t+k}, and one DDIM denoising step brings it
back to x̂_t. A member's posterior is estimated well, so the round trip returns close to where it
left: score = −‖x̂_t − x̃_t‖²/d. Deterministic: the seed plays no part. The zoo's x₀ output is
converted to ε for the DDIM steps (``queries``), without the sampler's clipping.
"""

from __future__ import annotations

import torch

from bench.errors import BenchError
from bench.membership.base import MembershipMethod, per_image
from bench.membership.queries import Queries


class SecMI(MembershipMethod):
    threat_model = "gray-box"

    def __init__(self, t: int, k: int) -> None:
        if k < 1 or t < k or t % k:
            raise BenchError(f"secmi needs 1 ≤ k ≤ t with k dividing t; got t={t}, k={k}")
        self.t, self.k = int(t), int(k)

    def queries_per_image(self) -> int:
        return self.t // self.k + 2

    def score(self, q: Queries, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = x0
        for s in range(0, self.t, self.k):
            x = q.ddim(x, s, s + self.k)
        ahead = q.ddim(x, self.t, self.t + self.k)
        back = q.ddim(ahead, self.t + self.k, self.t)
        return -per_image((back - x) ** 2)
