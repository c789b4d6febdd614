"""The denoiser a sampler or attack talks to: UNet + optional caption encoder + schedule.

Attacks count its evaluations as batch × sampling steps per shard (see generation.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDPMScheduler
from torch import nn

from bench.zoo.text_encoder import CaptionEncoder


@dataclass
class Denoiser:
    unet: nn.Module
    scheduler: DDPMScheduler
    text_encoder: CaptionEncoder | None = None

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
        """Model output (in the scheduler's prediction type) for a batch at timestep(s) ``t``."""
        if isinstance(t, torch.Tensor):
            t = t.to(x_t.device)
        if self.text_encoder is None:
            if captions is not None:
                raise ValueError("this model is unconditional; captions cannot be given")
            return self.unet(x_t, t).sample
        if captions is None or len(captions) != len(x_t):
            raise ValueError("a caption-conditional model needs one caption per sample")
        states, mask = self.text_encoder(captions)
        return self.unet(
            x_t, t, encoder_hidden_states=states, encoder_attention_mask=mask.float()
        ).sample
