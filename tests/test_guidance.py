"""Classifier guidance against closed forms, for every prediction type and with x_0 clipping.

The data are Gaussian, x_0 ~ N(μ, s²I), so the exact denoiser is known in closed form, and tilting
the data by exp(⟨a, x_0⟩) gives another Gaussian, N(μ + s²a, s²I), whose noisy marginals differ
from the untilted ones by the exact classifier gradient ∇ log p(c | x_t) = sqrt(ᾱ) s² a / v_t with
v_t = ᾱ s² + 1 - ᾱ. Guided sampling must land on the tilted mean: a sign error lands on μ - s²a, a
scale error elsewhere. A second test replays guided-diffusion's DDIM step by hand with a large
gradient, so guidance cut away by ``clip_sample`` (or added with the wrong sign or scale) fails.
"""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler

from bench.zoo.sampling import sample_batch

MU, S = 0.2, 0.3
PREDICTIONS = ("epsilon", "sample", "v_prediction")


class GaussianDenoiser:
    """The exact denoiser of N(μ, s²I) data, answering in the scheduler's prediction type."""

    device = torch.device("cpu")
    conditional = False
    unet_batch = None  # each batch whole, as a card without [scheduler] unet_batch

    def __init__(self, scheduler: DDIMScheduler) -> None:
        self.scheduler = scheduler
        self.prediction_type = scheduler.config.prediction_type

    def __call__(self, x: torch.Tensor, t: torch.Tensor, captions: None = None) -> torch.Tensor:
        a = self.scheduler.alphas_cumprod[int(t)]
        x0 = MU + a.sqrt() * S**2 * (x - a.sqrt() * MU) / (a * S**2 + 1 - a)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        if self.prediction_type == "epsilon":
            return eps
        if self.prediction_type == "sample":
            return x0
        return a.sqrt() * eps - (1 - a).sqrt() * x0


class TiltGradient:
    """∇_{x_t} log p(c | x_t, t) for the tilt exp(⟨a, x_0⟩) of Gaussian data (exact)."""

    def __init__(self, scheduler: DDIMScheduler, tilt: float, scale: float = 1.0) -> None:
        self.alphas = scheduler.alphas_cumprod
        self.tilt = tilt
        self.scale = scale

    def log_prob_grad(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        a = self.alphas[t].view(-1, 1, 1, 1)
        return (a.sqrt() * S**2 * self.tilt / (a * S**2 + 1 - a)).expand_as(x_t)


class ConstantGradient:
    """A gradient of fixed size: far larger than the exact tilt, so clipping would show."""

    def __init__(self, value: float, scale: float) -> None:
        self.value = value
        self.scale = scale

    def log_prob_grad(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        return torch.full_like(x_t, self.value)


def _scheduler(prediction_type: str, clip: bool) -> DDIMScheduler:
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        prediction_type=prediction_type,
        clip_sample=clip,
    )


def _draw(sched: DDIMScheduler, n: int, steps: int, guidance: object | None) -> torch.Tensor:
    return sample_batch(
        GaussianDenoiser(sched),
        sched,
        n,
        4,
        steps,
        torch.Generator().manual_seed(0),
        guidance=guidance,
        labels=torch.zeros(n, dtype=torch.long),
    )


@pytest.mark.parametrize("prediction_type", PREDICTIONS)
def test_guidance_moves_samples_to_the_tilted_mean(prediction_type: str) -> None:
    """Unguided → μ; λ = 1 with the exact gradient → μ + s²a; λ = -1 (a sign error) → μ - s²a."""
    sched = _scheduler(prediction_type, clip=False)
    tilt = 3.0  # shifts the mean by s²a = 0.27, many standard errors of the mean at n = 512
    means = {
        scale: float(_draw(sched, 512, 100, TiltGradient(sched, tilt, scale)).mean())
        for scale in (1.0, -1.0)
    }
    plain = float(_draw(sched, 512, 100, None).mean())
    assert plain == pytest.approx(MU, abs=0.02)
    assert means[1.0] == pytest.approx(MU + S**2 * tilt, abs=0.02)
    assert means[-1.0] == pytest.approx(MU - S**2 * tilt, abs=0.02)


def _reference_guided_ddim(
    sched: DDIMScheduler, x: torch.Tensor, steps: int, grad: float, scale: float
) -> torch.Tensor:
    """guided-diffusion's ``condition_score`` + ``ddim_sample`` (η = 0), written out by hand."""
    den = GaussianDenoiser(_scheduler("sample", clip=False))
    sched.set_timesteps(steps)
    step = sched.config.num_train_timesteps // steps
    for t in sched.timesteps:
        a = sched.alphas_cumprod[int(t)]
        prev = int(t) - step
        a_prev = sched.alphas_cumprod[prev] if prev >= 0 else sched.final_alpha_cumprod
        x0 = den(x, t)
        if sched.config.clip_sample:
            x0 = x0.clamp(-1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt() - scale * (1 - a).sqrt() * grad
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x.clamp(-1, 1)


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("prediction_type", PREDICTIONS)
def test_guided_step_is_guided_diffusions_and_survives_clipping(
    prediction_type: str, clip: bool
) -> None:
    """Guidance is added after the x_0 clip: a clipped shift or a wrong sign or scale fails."""
    sched = _scheduler(prediction_type, clip)
    got = _draw(sched, 16, 20, ConstantGradient(0.05, scale=2.0))
    start = torch.randn((16, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    want = _reference_guided_ddim(_scheduler(prediction_type, clip), start, 20, 0.05, 2.0)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    unguided = _draw(sched, 16, 20, None)
    assert (got - unguided).abs().mean() > 0.05  # the test's gradient really moves the samples


def test_zero_guidance_is_ddim_with_epsilon_from_the_clipped_x0() -> None:
    """λ = 0 equals diffusers' DDIM with ``use_clipped_model_output`` (Glide's convention)."""
    sched = _scheduler("sample", clip=True)
    got = _draw(sched, 8, 10, ConstantGradient(1.0, scale=0.0))
    den = GaussianDenoiser(sched)
    x = torch.randn((8, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    sched.set_timesteps(10)
    for t in sched.timesteps:
        x = sched.step(den(x, t), t, x, use_clipped_model_output=True).prev_sample
    torch.testing.assert_close(got, x.clamp(-1, 1))
