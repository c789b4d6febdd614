"""Build the diffusers UNet, caption encoder and schedulers that a model card describes.

The card's ``[architecture]`` table is a diffusers UNet config and its ``[scheduler]`` table a
diffusers scheduler config, each passed whole to ``from_config``: every key the card names is
honoured, and a key the diffusers class does not take is an error rather than silently dropped,
so a card cannot describe one network and build another. ``sampler`` names the sampling scheduler
(``ddim``, ``ddpm`` or any diffusers scheduler class), built from the training schedule's config.
"""

from __future__ import annotations

import inspect
from typing import Any

import diffusers
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    SchedulerMixin,
    UNet2DConditionModel,
    UNet2DModel,
)
from torch import nn

from bench.cards import ModelCard
from bench.errors import BenchError
from bench.zoo.sampling import BATCH
from bench.zoo.text_encoder import CaptionEncoder

# Card keys that configure the suite's caption encoder or the sampling loop, not a diffusers class.
ENCODER_KEYS = ("text_dim", "text_len")
SAMPLING_KEYS = ("sampler", "sampling_steps", "unet_batch")
SAMPLERS: dict[str, type[SchedulerMixin]] = {"ddim": DDIMScheduler, "ddpm": DDPMScheduler}


def config_keys(cls: type) -> set[str]:
    """The keys a diffusers class's config takes (its constructor's parameters)."""
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def _checked(
    classes: tuple[type, ...], config: dict[str, Any], card: ModelCard, table: str
) -> dict[str, Any]:
    unknown = sorted(set(config) - set().union(*map(config_keys, classes)))
    if unknown:
        raise BenchError(
            f"card {card.name}: [{table}] key(s) {', '.join(unknown)} are not "
            f"{' or '.join(c.__name__ for c in classes)} config keys"
        )
    return config


def unet_config(card: ModelCard) -> dict[str, Any]:
    """The diffusers config of the card's UNet: its architecture table plus input and output."""
    arch = {k: v for k, v in card.architecture.items() if k not in ENCODER_KEYS}
    config = {"sample_size": card.resolution, "in_channels": 3, "out_channels": 3, **arch}
    if card.conditioning == "caption":
        config["cross_attention_dim"] = int(card.architecture["text_dim"])
    # An imported card names these itself: weights for other images cannot score this member set.
    for key, want in (("sample_size", card.resolution), ("in_channels", 3), ("out_channels", 3)):
        if config[key] != want:
            raise BenchError(
                f"card {card.name}: [architecture] {key} is {config[key]}, but its member set "
                f"is {want} ({'resolution' if key == 'sample_size' else 'RGB channels'})"
            )
    return config


def build_unet(card: ModelCard) -> nn.Module:
    cls = UNet2DConditionModel if card.conditioning == "caption" else UNet2DModel
    return cls.from_config(_checked((cls,), unet_config(card), card, "architecture"))


def build_text_encoder(card: ModelCard, vocab: list[str]) -> CaptionEncoder:
    arch = card.architecture
    return CaptionEncoder(vocab, dim=int(arch["text_dim"]), max_len=int(arch.get("text_len", 32)))


def _schedule(card: ModelCard) -> dict[str, Any]:
    """The scheduler table without its sampling keys; each key must configure the training
    schedule (DDPM's) or the card's sampler (e.g. DDIM's ``steps_offset`` in an imported card)."""
    config = {k: v for k, v in card.scheduler.items() if k not in SAMPLING_KEYS}
    return _checked((DDPMScheduler, sampler_class(card)), config, card, "scheduler")


def build_scheduler(card: ModelCard) -> DDPMScheduler:
    """The training (noising) schedule: DDPM's, configured by the card's scheduler table."""
    keys = config_keys(DDPMScheduler)
    return DDPMScheduler.from_config({k: v for k, v in _schedule(card).items() if k in keys})


def sampler_class(card: ModelCard) -> type[SchedulerMixin]:
    name = str(card.scheduler.get("sampler", "ddim"))
    cls = SAMPLERS.get(name.lower()) or getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
        raise BenchError(
            f"card {card.name}: sampler {name!r} is neither ddim, ddpm nor a diffusers "
            "scheduler class"
        )
    return cls


DEFAULT_STEPS = 50  # the suite's sampling steps where no card sets them


def sampling_steps(card: ModelCard) -> int:
    """The sampler steps the card sets (``[scheduler] sampling_steps``), else the suite's 50: the
    one place every consumer (cells, memorisation, `bench perf`, the pool count) reads them."""
    return int(card.scheduler.get("sampling_steps", DEFAULT_STEPS))


def unet_batch(card: ModelCard) -> int | None:
    """The most images one UNet call sees (``[scheduler] unet_batch``); None where every batch is
    seen whole (no key, or one of at least the suite's sampling batch). It fixes how outputs
    round (``bench.zoo.denoiser``), so it is checked like any card key."""
    value = card.scheduler.get("unet_batch")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(
            f"card {card.name}: [scheduler] unet_batch must be a positive integer, not {value!r}"
        )
    return value if value < BATCH else None


def build_sampler(card: ModelCard) -> SchedulerMixin:
    """The card's sampling scheduler over the training schedule (DDIM unless it names another)."""
    cls = sampler_class(card)
    own = {k: v for k, v in _schedule(card).items() if k in config_keys(cls)}
    return cls.from_config({**build_scheduler(card).config, **own})
