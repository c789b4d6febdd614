"""Where sampling and training time goes: the suite's loops against the bare operations they wrap.

`bench perf` sets each of the suite's loops beside the bare torch/diffusers operation it wraps,
on the same model and batch in the same process: the DDIM loop against the UNet's forward passes
alone, a guided step against an unguided one, and a training step against a bare diffusers
training loop (forward, loss, backward, optimiser step); and UNet throughput by images per call
(``forward_by_unet_batch``: what a card's ``unet_batch`` trades). The two sides of a ratio are timed
alternately and each keeps its fastest repeat, so a machine that gets busier midway slows both
rather than one.

A card without a released checkpoint (a paper-profile card on a machine that cannot train it)
is timed as its architecture with seeded random weights, and so is a card asked for at a
resolution it does not have: throughput does not depend on the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from bench.attacks.base import GuidanceShape
from bench.cards import ModelCard
from bench.data.subset import Subset
from bench.errors import BenchError
from bench.utils.device import compute_device
from bench.utils.timing import fastest
from bench.zoo.build import build_sampler, build_scheduler, build_unet, unet_batch
from bench.zoo.denoiser import Denoiser, in_slices
from bench.zoo.load import checkpoint_status, load_denoiser
from bench.zoo.sampling import batch_generator, sample_batch
from bench.zoo.train import Trainer


@dataclass(frozen=True)
class PerfModel:
    """A model to time: the card (at the resolution timed) and its denoiser."""

    card: ModelCard
    denoiser: Denoiser
    trained: bool

    @property
    def label(self) -> str:
        if self.trained:
            return f"`{self.card.name}` ({self.card.resolution} px, trained)"
        return f"`{self.card.name}`'s architecture at {self.card.resolution} px (untrained)"


def perf_model(card: ModelCard, resolution: int | None = None) -> PerfModel:
    """The card's trained denoiser at its own resolution (the default), else its architecture
    built (``sample_size``) at ``resolution`` with seeded random weights, which is also how a
    card without a checkpoint is timed. Unconditional cards only: a caption model's steps carry
    its text encoder, which the bare operations do not have."""
    if card.conditioning != "unconditional":
        raise BenchError(
            f"bench perf times unconditional models; {card.name} is {card.conditioning}"
        )
    resolution = resolution or card.resolution
    if resolution == card.resolution and checkpoint_status(card) == "trained":
        return PerfModel(card, load_denoiser(card), trained=True)
    sized = replace(card, resolution=resolution)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = build_unet(sized)
    unet = unet.to(compute_device()).eval().requires_grad_(False)
    denoiser = Denoiser(unet=unet, scheduler=build_scheduler(sized), unet_batch=unet_batch(sized))
    return PerfModel(sized, denoiser, trained=False)


def loop_vs_forward(model: PerfModel, batch: int, steps: int, repeats: int) -> dict[str, float]:
    """The sampling loop (``sample_batch``: noise, scheduler steps, clamp) against ``steps`` bare
    UNet forward passes on the same batch; ``ratio`` is the loop's share of bare throughput."""
    card, den = model.card, model.denoiser
    res = card.resolution
    x = torch.randn((batch, 3, res, res), generator=batch_generator(0, 0)).to(den.device)
    sampler = build_sampler(card)
    sampler.set_timesteps(steps)
    timesteps = list(sampler.timesteps)

    def loop() -> object:
        return sample_batch(den, build_sampler(card), batch, res, steps, batch_generator(0, 0))

    @torch.no_grad()
    def bare() -> object:  # the bare forwards see the slices the loop's do
        for t in timesteps:
            t = t.to(den.device)
            out = in_slices(lambda xs, t=t: den.unet(xs, t).sample, den.unet_batch, x)
        return out

    best = fastest({"loop": loop, "bare": bare}, repeats)
    return {
        "loop_s": best["loop"],
        "bare_s": best["bare"],
        "ratio": best["bare"] / best["loop"],
        "image_steps_per_s": batch * steps / best["loop"],
        "seconds_per_output": best["loop"] / batch,
    }


UNET_BATCHES = (8, 16, 32, 64, 128, 256)  # images per UNet call that `bench perf` tables


def forward_by_unet_batch(
    model: PerfModel, batch: int, repeats: int, sizes: tuple[int, ...] = UNET_BATCHES
) -> dict[int, float]:
    """Images per second of bare UNet forwards over one sampling batch of ``batch`` in slices of
    each size (what a card's ``unet_batch`` trades: cache-sized slices against fewer calls)."""
    den, res = model.denoiser, model.card.resolution
    x = torch.randn((batch, 3, res, res), generator=batch_generator(0, 0)).to(den.device)
    t = torch.tensor(500, device=den.device)

    def forwards(size: int) -> Callable[[], object]:
        @torch.no_grad()
        def run() -> object:
            return in_slices(lambda xs: den.unet(xs, t).sample, size, x)

        return run

    best = fastest({str(n): forwards(n) for n in sizes if n <= batch}, repeats)
    return {int(n): batch / seconds for n, seconds in best.items()}


def guided_vs_unguided(
    model: PerfModel, batch: int, steps: int, repeats: int, guidance: GuidanceShape
) -> dict[str, float]:
    """A classifier-guided sampling loop against the unguided loop; ``ratio`` is the guided
    step's cost in unguided steps. The guide is an untrained one of the shape an attack declares
    (``Draws.guidance``, whose ``untrained`` builds it, so no attack class is named here): the
    ratio is the one its guided outputs pay, since its cost does not depend on the weights."""
    card, den = model.card, model.denoiser
    steer = guidance.untrained(den.device)
    labels = torch.arange(batch) % guidance.classes

    def run(guided: bool) -> Callable[[], object]:
        return lambda: sample_batch(
            den,
            build_sampler(card),
            batch,
            card.resolution,
            steps,
            batch_generator(0, 0),
            guidance=steer if guided else None,
            labels=labels if guided else None,
        )

    best = fastest({"guided": run(True), "unguided": run(False)}, repeats)
    return {"guided_s": best["guided"], "unguided_s": best["unguided"]} | {
        "ratio": best["guided"] / best["unguided"]
    }


def train_vs_bare(model: PerfModel, steps: int, repeats: int) -> dict[str, float]:
    """``steps`` of the zoo's training step (``Trainer.train_step``: batch selection, noise, the
    card's target, warm-up, clipping, EMA) against a bare diffusers loop on the same architecture,
    batch and optimiser (forward, MSE, backward, AdamW step); ``ratio`` is the zoo's share of bare
    throughput (goal: at least 0.95)."""
    card = model.card
    batch, res = int(card.training["batch"]), card.resolution
    rng = np.random.default_rng(0)
    n = 4 * batch
    images = rng.integers(0, 256, (n, res, res, 3), dtype=np.uint8)
    data = Subset([f"{i}.jpg" for i in range(n)], images, np.ones(n, dtype=int), [""] * n)
    with torch.random.fork_rng(devices=[]):
        trainer = Trainer(card, data)
        torch.manual_seed(0)
        unet = build_unet(card).to(trainer.device)
    opt = torch.optim.AdamW(
        unet.parameters(),
        lr=float(card.training["lr"]),
        weight_decay=float(card.training.get("weight_decay", 0.0)),
    )
    schedule = build_scheduler(card)
    prediction = schedule.config.prediction_type
    x0 = trainer.images[:batch]
    g = torch.Generator().manual_seed(0)

    def target(noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if prediction == "sample":
            return x0
        return noise if prediction == "epsilon" else schedule.get_velocity(x0, noise, t)

    def zoo() -> None:
        for _ in range(steps):
            trainer.train_step()

    def bare() -> None:
        for _ in range(steps):
            noise = torch.randn(x0.shape, generator=g).to(x0.device)
            t = torch.randint(0, schedule.config.num_train_timesteps, (batch,), generator=g)
            t = t.to(x0.device)
            pred = unet(schedule.add_noise(x0, noise, t), t).sample
            loss = F.mse_loss(pred, target(noise, t))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    best = fastest({"zoo": zoo, "bare": bare}, repeats)
    return {
        "zoo_s": best["zoo"],
        "bare_s": best["bare"],
        "ratio": best["bare"] / best["zoo"],
        "images_per_s": steps * batch / best["zoo"],
    }
