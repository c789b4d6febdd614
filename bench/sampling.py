"""Ancestral/DDIM sampling with optional classifier guidance, written once for every attack.

Guidance follows Dhariwal & Nichol (2021), Eq. 14 / Algorithm 2, as used by SIDE (Chen et al.,
Eq. 5): the guided score is ``s_θ(x_t, t) + λ ∇_{x_t} log p_φ(c | x_t, t)``. Since
``s = -ε / sqrt(1 - ᾱ_t)``, the guided noise prediction is ``ε̂ = ε - λ sqrt(1 - ᾱ_t) ∇``; the same
shift is applied in whichever space the model predicts (ε, x_0 or v), so one step serves every
diffusers scheduler. With λ = 0 the added term is exactly zero and sampling is unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from diffusers import SchedulerMixin
from tqdm import tqdm

from bench.imageio import to_uint8
from bench.zoo.denoiser import Denoiser


class Guidance(Protocol):
    """A classifier that supplies ∇_{x_t} log p(c | x_t, t) for target labels."""

    scale: float

    def log_prob_grad(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor: ...


def guide(
    output: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    grad: torch.Tensor,
    scale: float,
    alphas_cumprod: torch.Tensor,
    prediction_type: str,
) -> torch.Tensor:
    """Shift a model output by the classifier gradient (Dhariwal & Nichol Eq. 14), in its space."""
    a = alphas_cumprod[int(t)].to(output.device, output.dtype)
    if prediction_type == "epsilon":
        shift = -(1 - a).sqrt() * grad
    elif prediction_type == "sample":  # x0 = (x_t - sqrt(1-a) ε) / sqrt(a)
        shift = (1 - a) / a.sqrt() * grad
    elif prediction_type == "v_prediction":  # v = sqrt(a) ε - sqrt(1-a) x0
        shift = -((1 - a) / a).sqrt() * grad
    else:
        raise ValueError(f"unsupported prediction type {prediction_type!r}")
    return output + scale * shift


def batch_generator(seed: int, batch_index: int) -> torch.Generator:
    """A fresh generator per batch, so any shard can be regenerated alone (resume)."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(batch_index))


def sample_batch(
    denoiser: Denoiser,
    sampler: SchedulerMixin,
    n: int,
    resolution: int,
    steps: int,
    generator: torch.Generator,
    captions: list[str] | None = None,
    guidance: Guidance | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """One batch of samples, float NCHW in [-1, 1]."""
    sampler.set_timesteps(steps)
    x = torch.randn((n, 3, resolution, resolution), generator=generator).to(denoiser.device)
    takes_generator = "generator" in inspect.signature(sampler.step).parameters
    alphas = sampler.alphas_cumprod
    for t in sampler.timesteps:
        if guidance is None:
            with torch.no_grad():
                out = denoiser(x, t, captions)
        else:
            with torch.no_grad():
                out = denoiser(x, t, captions)
            grad = guidance.log_prob_grad(x, t.expand(n), labels)
            out = guide(out, x, int(t), grad, guidance.scale, alphas, denoiser.prediction_type)
        kwargs = {"generator": generator} if takes_generator else {}
        x = sampler.step(out, t, x, **kwargs).prev_sample
    return x.clamp(-1, 1)


def sample(
    denoiser: Denoiser,
    sampler: SchedulerMixin,
    n: int,
    resolution: int,
    steps: int,
    seed: int,
    batch: int = 256,
    captions: list[str] | None = None,
    guidance: Guidance | None = None,
    labels: np.ndarray | None = None,
    start_batch: int = 0,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Yield uint8 (B, R, R, 3) batches; batch i always uses generator (seed, i)."""
    n_batches = -(-n // batch)
    bar = tqdm(
        range(start_batch, n_batches),
        desc="sampling",
        unit="batch",
        leave=False,
        disable=not progress,
    )
    for b in bar:
        lo, hi = b * batch, min(n, (b + 1) * batch)
        caps = captions[lo:hi] if captions is not None else None
        lab = torch.as_tensor(labels[lo:hi]) if labels is not None else None
        x = sample_batch(
            denoiser,
            sampler,
            hi - lo,
            resolution,
            steps,
            batch_generator(seed, b),
            caps,
            guidance,
            lab,
        )
        yield to_uint8(x)
