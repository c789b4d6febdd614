"""Build the diffusers UNet, caption encoder and schedulers that a model card describes."""

from __future__ import annotations

from typing import Any

from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel, UNet2DModel
from torch import nn

from bench.cards import ModelCard
from bench.zoo.text_encoder import CaptionEncoder


def build_unet(card: ModelCard) -> nn.Module:
    arch: dict[str, Any] = dict(card.architecture)
    common = dict(
        sample_size=card.resolution,
        in_channels=3,
        out_channels=3,
        block_out_channels=tuple(arch["block_out_channels"]),
        layers_per_block=int(arch["layers_per_block"]),
        down_block_types=tuple(arch["down_block_types"]),
        up_block_types=tuple(arch["up_block_types"]),
        norm_num_groups=int(arch.get("norm_num_groups", 32)),
    )
    if card.conditioning == "caption":
        return UNet2DConditionModel(
            **common,
            cross_attention_dim=int(arch["text_dim"]),
            attention_head_dim=int(arch.get("attention_head_dim", 8)),
        )
    return UNet2DModel(**common, attention_head_dim=int(arch.get("attention_head_dim", 8)))


def build_text_encoder(card: ModelCard, vocab: list[str]) -> CaptionEncoder:
    arch = card.architecture
    return CaptionEncoder(vocab, dim=int(arch["text_dim"]), max_len=int(arch.get("text_len", 32)))


def build_scheduler(card: ModelCard) -> DDPMScheduler:
    s = card.scheduler
    return DDPMScheduler(
        num_train_timesteps=int(s["num_train_timesteps"]),
        beta_schedule=s["beta_schedule"],
        prediction_type=s["prediction_type"],
        clip_sample=bool(s.get("clip_sample", True)),
    )


def build_sampler(card: ModelCard) -> DDIMScheduler:
    """The sampling scheduler: DDIM over the training schedule (as the SIDE paper's HF models)."""
    return DDIMScheduler.from_config(build_scheduler(card).config)
