"""The denoiser a sampler or attack talks to: UNet + optional caption encoder + schedule.

Attacks count its evaluations as batch × sampling steps per shard (see generation.py).

``compile()`` gives the same denoiser with its UNet run through ``torch.compile`` (``--compile``,
``BENCH_COMPILE=1``): the same weights and configs, but kernels that round differently (outputs
within about 1e-6 of eager ones, so a uint8 pixel can move by one level). The module itself stays
the eager one, so configs, parameters and records name the UNet, and ``compiled`` says which ran.

``unet_batch`` (a card's ``[scheduler] unet_batch``) caps the images one UNet call sees: a sampling
batch of 256 is denoised in slices of that many and joined. On a CPU a 32×32 batch of 256 spills
the caches (one 32-channel activation at full resolution is 33 MB): bare forwards in slices of 16
ran 2.05× the whole batch's throughput here, and whole sampling loops 1.5-2.4× (this machine's
speed is noisy). `bench perf`'s table by images per call measures it where it runs. Slices round
differently from the whole batch (about 4e-7), so a uint8 pixel can move by one level: the size is
part of what fixes a sample's bytes, like compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from diffusers import DDPMScheduler
from torch import nn

from bench.zoo.text_encoder import CaptionEncoder


def in_slices(
    fn: Callable[..., torch.Tensor],
    size: int | None,
    first: torch.Tensor,
    *rest: torch.Tensor | list[str] | None,
) -> torch.Tensor:
    """``fn`` over consecutive slices of at most ``size`` of every argument's rows, joined (one
    call where ``size`` is None or covers them); a None after the first passes through as None.
    Each row's output must depend on its own row only, as a UNet's or a classifier gradient's
    does, so that slicing changes rounding and nothing else."""
    if size is None or len(first) <= size:
        return fn(first, *rest)
    return torch.cat(
        [
            fn(first[i : i + size], *(None if r is None else r[i : i + size] for r in rest))
            for i in range(0, len(first), size)
        ]
    )


@dataclass
class Denoiser:
    unet: nn.Module
    scheduler: DDPMScheduler
    text_encoder: CaptionEncoder | None = None
    # torch.compile(unet) when compiled; None runs the module eagerly.
    compiled_unet: Callable[..., object] | None = field(default=None, repr=False)
    # Most images per UNet call (None: the whole batch at once).
    unet_batch: int | None = None

    @property
    def compiled(self) -> bool:
        return self.compiled_unet is not None

    def compile(self) -> Denoiser:
        """This denoiser with a compiled UNet (compiled on its first call, tens of seconds)."""
        return replace(self, compiled_unet=torch.compile(self.unet))

    @property
    def conditional(self) -> bool:
        return self.text_encoder is not None

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def prediction_type(self) -> str:
        return self.scheduler.config.prediction_type

    def __call__(
        self, x_t: torch.Tensor, t: torch.Tensor | int, captions: list[str] | None = None
    ) -> torch.Tensor:
        """Model output (in the scheduler's prediction type) for a batch at timestep(s) ``t``,
        in slices of at most ``unet_batch`` images."""
        if isinstance(t, torch.Tensor):
            t = t.to(x_t.device)
        if self.text_encoder is None and captions is not None:
            raise ValueError("this model is unconditional; captions cannot be given")
        if self.text_encoder is not None and (captions is None or len(captions) != len(x_t)):
            raise ValueError("a caption-conditional model needs one caption per sample")
        if isinstance(t, torch.Tensor) and t.ndim > 0 and len(t) == len(x_t):
            return in_slices(self._forward, self.unet_batch, x_t, t, captions)
        return in_slices(lambda x, c: self._forward(x, t, c), self.unet_batch, x_t, captions)

    def _forward(
        self, x_t: torch.Tensor, t: torch.Tensor | int, captions: list[str] | None
    ) -> torch.Tensor:
        unet = self.unet if self.compiled_unet is None else self.compiled_unet
        if self.text_encoder is None:
            return unet(x_t, t).sample
        states, mask = self.text_encoder(captions)
        out = unet(x_t, t, encoder_hidden_states=states, encoder_attention_mask=mask.float())
        return out.sample
