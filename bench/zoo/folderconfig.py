"""The schemas of a user's diffusers folder (``run --model-path``, ``zoo import``): its UNet's
``config.json`` and its ``scheduler_config.json``, checked at the boundary with pydantic
(``bench.utils.schema`` says why).

Read by hand, a config that diffusers would refuse only failed deep inside a run, as a traceback
(a ``_class_name`` that is a list, a ``sample_size`` that is a dict, block lists of different
lengths, a ``norm_num_groups`` that does not divide the channels) or, worse, after sampling had
begun (a ``prediction_type`` diffusers does not know is read at the first denoising step). Only
the keys the suite reads or that would break diffusers' own arithmetic are declared; every other
key is passed on as saved, and ``bench.zoo.external`` then builds the sampler and the UNet, and
dry-runs one sampling step, before any real work.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bench.utils.schema import Lenient

Positive = Annotated[int, Field(ge=1, le=2**31 - 1)]
NonNegative = Annotated[float, Field(ge=0)]
UNetClass = Literal["UNet2DModel", "UNet2DConditionModel"]
# What DDPMScheduler.step (and every scheduler the suite samples with) accepts; other values are
# refused by diffusers only at the first step, after the model was loaded and the run begun.
PredictionType = Literal["epsilon", "sample", "v_prediction"]


class UNetConfig(Lenient):
    """A UNet's ``config.json``: the class, the image it samples and the block layout."""

    class_name: UNetClass = Field(alias="_class_name")
    sample_size: Positive | Annotated[list[Positive], Field(min_length=1, max_length=2)]
    in_channels: Positive = 3
    out_channels: Positive = 3
    block_out_channels: Annotated[list[Positive], Field(min_length=1)] | None = None
    down_block_types: list[str] | None = None
    up_block_types: list[str] | None = None
    layers_per_block: Positive | list[Positive] = 2
    norm_num_groups: Positive | None = 32

    @model_validator(mode="after")
    def _blocks_fit(self) -> UNetConfig:
        lists = {
            name: len(value)
            for name in ("block_out_channels", "down_block_types", "up_block_types")
            if (value := getattr(self, name)) is not None
        }
        if len(set(lists.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lists.items())
            raise ValueError(f"the block lists must be as long as each other ({shown})")
        groups = self.norm_num_groups
        if groups is not None and self.block_out_channels is not None:
            odd = [c for c in self.block_out_channels if c % groups]
            if odd:
                raise ValueError(
                    f"norm_num_groups {groups} must divide every block_out_channels entry "
                    f"(not {odd[0]})"
                )
        return self


class SchedulerConfig(Lenient):
    """A ``scheduler_config.json``: the class named, and the training schedule's numbers."""

    class_name: Annotated[str, Field(min_length=1, max_length=100)] = Field(alias="_class_name")
    num_train_timesteps: Positive = 1000
    prediction_type: PredictionType = "epsilon"
    beta_start: NonNegative | None = None
    beta_end: NonNegative | None = None
