"""The schemas of the three card files (attacks, models, datasets), checked once when a card is
read (``bench.cards.registry``), with pydantic as every other input (``bench.utils.schema`` says
why).

Read field by field, a hand-edited card failed far from its cause or not at all: ``version = "x"``
was accepted, ``applies_to = "caption"`` was split into seven one-letter conditionings, bounds
written as strings (``min = "0"``) and ``implementation = 5`` ended in tracebacks. Here every
field a card holds is declared with its type and bounds, so a bad value is one line naming the
card, the field and what was expected. What a card means beyond its fields (every parameter gives
a value for every profile, a borrowed profile exists) stays in ``bench.cards.schema``.

The model card's ``[architecture]`` and ``[scheduler]`` are diffusers configs (an imported card
holds the folder's whole config), so only the keys the suite reads are declared there; every
other table is closed, so a misspelt key is refused rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from bench.errors import BenchError
from bench.utils.schema import Lenient, Strict, parse

Version = Annotated[int, Field(ge=1)]
Positive = Annotated[int, Field(ge=1, lt=2**63)]
NonNegative = Annotated[int, Field(ge=0, lt=2**63)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Text = Annotated[str, Field(min_length=1)]
OneLine = Annotated[str, Field(min_length=1, pattern=r"^[^\n]*$")]
# A parameter's value, in a profile, a mechanism-off entry or a sweep: what a constructor takes.
Scalar = bool | int | float | str
# An attack or method class, as ``module.path:ClassName``.
Implementation = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
Conditioning = Literal["unconditional", "caption"]
# The suite's own resolutions run from 8 px (tests) to 256 px; 4,096 px is past any face model.
Resolution = Annotated[int, Field(ge=1, le=4096)]
PredictionType = Literal["epsilon", "sample", "v_prediction"]


class CardHead(Strict):
    """What every card declares: a name (checked as a file name by the registry) and a version."""

    name: Text
    version: Version


# --- attack cards -------------------------------------------------------------------------------
class ParamTable(Lenient):
    """A ``[params.<name>]`` table: the parameter's description, and (as the table's other keys)
    its value in each profile."""

    __pydantic_extra__: dict[str, Scalar]

    source: OneLine
    min: float | None = None
    max: float | None = None
    alias: Annotated[str, Field(pattern=r"^[A-Za-z][\w-]*$")] | None = None
    off: Annotated[dict[str, Scalar], Field(min_length=1)] | None = None
    sweep: list[Scalar] = []
    # The value at which the parameter changes nothing earlier records computed (``Param``).
    neutral: Scalar | None = None
    # Whether the parameter only sets what the attack spends (a sweep of it picks by the cost rule).
    cost_only: bool = False

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ParamTable:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self

    @model_validator(mode="after")
    def _neutral_is_a_value(self) -> ParamTable:
        neutral = self.neutral
        values = (self.__pydantic_extra__ or {}).values()
        if neutral is not None and any(type(v) is not type(neutral) for v in values):
            raise ValueError("neutral must have its values' type")
        return self


class AttackFile(CardHead):
    """An attack card (``attacks/<name>.toml``)."""

    implementation: Implementation
    paper: Text
    threat_model: Text
    applies_to: Annotated[list[Conditioning], Field(min_length=1)] = ["unconditional"]
    tuned_on: list[Text] = []
    defaults_from: dict[str, Text] = {}
    params: Annotated[dict[str, ParamTable], Field(min_length=1)]
    # Each claim's own fields are checked by the claim's schema (``bench.report.claims``).
    claims: dict[str, dict[str, Any]] = {}


# --- model cards --------------------------------------------------------------------------------
class Architecture(Lenient):
    """A UNet's layout; other diffusers ``UNet2DModel`` keys pass through to diffusers."""

    block_out_channels: Annotated[list[Positive], Field(min_length=1)] | None = None
    down_block_types: list[Text] | None = None
    up_block_types: list[Text] | None = None
    layers_per_block: Positive | list[Positive] | None = None
    norm_num_groups: Positive | None = None
    attention_head_dim: Positive | list[Positive] | None = None
    text_dim: Positive | None = None
    text_len: Positive | None = None


class Scheduler(Lenient):
    """The noise schedule and the sampler; other diffusers scheduler keys pass through."""

    num_train_timesteps: Positive | None = None
    beta_schedule: Text | None = None
    prediction_type: PredictionType | None = None
    clip_sample: bool | None = None
    sampler: Text | None = None
    sampling_steps: Positive | None = None
    unet_batch: Positive | None = None


class Training(Strict):
    """``[training]``: what `bench zoo train` runs."""

    images_seen: Positive
    batch: Positive
    lr: Annotated[float, Field(gt=0)]
    warmup_steps: NonNegative = 0
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    ema_decay: Fraction
    bf16: bool = False
    seed: NonNegative


class Evaluation(Strict):
    """``[evaluation]``: the unguided samples the memorisation check draws after training."""

    samples: Positive = 256
    seed: NonNegative = 1


class Trained(Lenient):
    """``[trained]``, written by `bench zoo train` or `bench zoo import`."""

    checkpoint_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    steps: NonNegative | None = None
    images_seen: NonNegative | None = None
    train_wall_minutes: Annotated[float, Field(ge=0)] | None = None
    memorised_fraction: Fraction | None = None
    unique_hits: NonNegative | None = None
    eval_samples: NonNegative | None = None
    median_nearest_l2: Annotated[float, Field(ge=0)] | None = None
    tier_hits: dict[str, Any] | None = None


class Headroom(Strict):
    """``[headroom]`` of a tuning model: members its unguided samples copy against what
    generate-and-filter finds at the shared budget."""

    copied_members: NonNegative
    samples: Positive
    baseline: Text
    budget: Positive
    baseline_distinct: Annotated[list[NonNegative], Field(min_length=1)]


class ModelFile(CardHead):
    """A model card (``models/<name>.toml``); an imported one has no ``[training]``."""

    dataset: Text
    scale: Text
    profile: Text
    resolution: Resolution
    conditioning: Conditioning
    canaries: Text | bool = False
    imported: bool = False
    role: Literal["ranked", "tuning"] = "ranked"
    architecture: Architecture
    scheduler: Scheduler
    training: Training | None = None
    evaluation: Evaluation = Evaluation()
    trained: Trained = Trained()
    headroom: Headroom | None = None

    @model_validator(mode="after")
    def _trained_here_or_imported(self) -> ModelFile:
        # An imported model was trained elsewhere: a [training] table would only invent numbers.
        if self.imported and self.training is not None:
            raise ValueError("an imported model has no [training] table")
        if not self.imported and self.training is None:
            raise ValueError("[training] is missing (only an imported model has none)")
        return self


# --- dataset cards ------------------------------------------------------------------------------
class Crop(Strict):
    """The square face crop, as fractions of the image's width and height."""

    left: Fraction
    top: Fraction
    size: Annotated[float, Field(gt=0, le=1)]


class Scale(Strict):
    """A member set: its size, and its committed manifest or the seed it is drawn with."""

    size: Positive
    manifest: Text | None = None
    seed: NonNegative | None = None
    offset: NonNegative = 0


class CanarySet(Strict):
    """A duplicated-canary variant (``repeats``) or a duplication ladder (``tiers``)."""

    scale: Text
    count: Positive
    repeats: Positive | None = None
    tiers: Annotated[list[Positive], Field(min_length=1)] | None = None
    manifest: Text


class Band(Lenient):
    lo: float
    hi: float
    false_match_rate: Fraction | None = None


class ResolutionBands(Lenient):
    """The ℓ2 bands calibrated at one resolution (``bench data calibrate``)."""

    high: Band
    mid: Band
    low: Band


class DatasetMetrics(Lenient):
    """``[metrics]``; its SSCD tables are checked by their own schema
    (``bench.metrics.sscd_bands``)."""

    deltas: Annotated[list[Fraction], Field(min_length=1)] | None = None
    budget: dict[str, Positive] = {}
    bands: dict[str, ResolutionBands] = {}
    sscd: dict[str, Any] = {}
    sscd_bands: dict[str, dict[str, dict[str, Any]]] = {}


class DatasetFile(CardHead):
    """A dataset card (``datasets/<name>.toml``)."""

    reader: Text | None = None
    nonmembers: Text
    crop: Crop
    manifest_seeds: dict[str, NonNegative] = {}
    scales: Annotated[dict[str, Scale], Field(min_length=1)]
    canaries: dict[str, CanarySet] = {}
    metrics: DatasetMetrics = DatasetMetrics()


# The schema of each card folder's files, by folder (``bench.utils.paths.CARD_KINDS``).
CARD_FILES: dict[str, type[CardHead]] = {
    "attacks": AttackFile,
    "models": ModelFile,
    "datasets": DatasetFile,
}
# The tables of the attack card layout before issue 35, where one parameter was declared in up to
# eight places: named in their own message, since "extra inputs are not permitted" would not say
# what to write instead.
OLD_TABLES = ("defaults", "sources", "bounds", "aliases", "sweep", "mechanism_off")


def check_card(kind: str, raw: dict[str, Any], path: Path) -> None:
    """``raw``, the card at ``path`` in the ``kind`` folder, against its schema; one
    ``BenchError`` line naming the card and the field if it does not fit. Kinds without a schema
    here (membership methods, ``bench.membership.cards``) are checked by their own loader."""
    schema = CARD_FILES.get(kind)
    if schema is None:
        return
    old = [t for t in OLD_TABLES if t in raw] if schema is AttackFile else []
    if old:
        raise BenchError(
            f"card {path} uses the old [{old[0]}] table; declare each parameter once, as "
            "[params.<name>] with its value per profile, bounds, alias and source (README, "
            '"Add an attack")'
        )
    parse(schema, raw, f"card {path}")
