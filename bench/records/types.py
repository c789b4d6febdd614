"""The run record's shape, field by field: what every record on disk holds and since when.

A record is plain JSON (a dict) on disk and in memory; these ``TypedDict``s only name its fields,
so a reader of ``report`` or ``runner`` sees what a key means without opening a JSON file, and
``tests/test_records.py`` checks that a written record has exactly the declared keys. Schemas:
1 is every record written before the ``schema`` field existed; 2 adds ``data_cache``; 3 adds
per-band hit rates and nearest-distance medians to the metrics, one entry per duplicate tier under
``canaries``, preparation costs, and attack diagnostics in ``info``; records from schema 3 on may
also carry ``model_config`` and, for a user's own diffusers folder, ``external``, ``model_path``
and ``member_manifest``; 4 adds which members were hit (``metrics.members_hit``) and SIDE's
cohesion filter and aim audit in ``info``; 5 adds what the cell took from the sample pool
(``pool``) and how it computed (``runtime``: a compiled UNet, torch's threads); 6 adds the most
images one UNet call saw (``runtime.unet_batch``); 7 adds the shards a cell took from its own
runs at other budgets (``pool.adopted``). No schema changed
the meaning of an older field, so every older record is read as it is.
"""

from __future__ import annotations

from typing import Any, TypedDict

Bands = dict[str, float]  # band name (high, mid, low) -> a fraction


class Cost(TypedDict):
    """Model evaluations the attack spent, preparation included (``AttackResult.cost``)."""

    unet_evaluations: int
    """Every UNet evaluation: preparation (e.g. SIDE's synthetic set) plus the outputs."""
    classifier_evaluations: int
    """Every classifier evaluation: training steps × batch plus one per guided sampling step."""
    prep_unet_evaluations: int
    """Of those, spent before the first output (since schema 3); prices a budget-curve prefix."""
    prep_classifier_evaluations: int
    """Of those, spent before the first output (since schema 3)."""


class ChanceMetrics(TypedDict):
    """The same statistics against the held-out non-member pool: each metric's chance level."""

    ams: Bands
    """Share of outputs whose nearest non-member lies in each band."""
    ums: Bands
    """Distinct non-members reached in each band, over N_G."""
    hit_rate: Bands
    """Share of the non-member pool within each band of some output (since schema 3)."""
    extracted: dict[str, int]
    """Non-members within ℓ2 δ of some output, by δ."""
    calibrated_extracted: int
    """Non-members flagged by Carlini's calibrated distance (ℓ < 1, α 0.5, n 50)."""
    gu_fraction: float
    """Share of outputs with nearest / second-nearest distance below 1/3 (Gu et al.)."""
    gu_unique: int
    """Distinct non-members nearest to such outputs."""
    nearest_median: float
    """Median ℓ2 from an output to its nearest non-member (since schema 3)."""
    nearest_p95: float
    """95th percentile of that distance."""


class _MemberMetrics(ChanceMetrics):
    """The fields of ``Metrics`` every schema-3 record has."""

    n_outputs: int
    """Outputs scored: N_G (a budget curve's prefix scores fewer)."""
    nonmember: ChanceMetrics
    """The same statistics against the non-members."""
    bands: dict[str, dict[str, float]]
    """The ℓ2 band edges scored with (lo, hi, false_match_rate), from the dataset card."""


class Metrics(_MemberMetrics, total=False):
    """``bench.metrics.score``: the outputs against the members, beside their chance level."""

    members_hit: dict[str, list[int]]
    """Members (indices into the member list) in the high band, and within each δ, of some
    output (since schema 4): which members, so attacks compare member by member."""


class Tier(TypedDict):
    """One tier of members duplicated ``times`` times in the training set."""

    times: int
    """How many copies each member of the tier has in the training multiset."""
    n: int
    """Members in the tier."""
    ams: Bands
    """As the record's metrics, against this tier's members only."""
    ums: Bands
    """As the record's metrics, against this tier's members only."""
    hit_rate: Bands
    """Share of the tier's members within each band of some output."""
    extracted: dict[str, int]
    """The tier's members within ℓ2 δ of some output, by δ."""


class Canaries(TypedDict):
    """Duplicated members scored apart (canary and ladder models; since schema 3 in this shape)."""

    tiers: list[Tier]
    """One entry per duplicate count, most duplicated first."""
    lowest_tier_reached: int | None
    """The smallest duplicate count with a member in the high band: the attack's reach."""


class Candidates(TypedDict, total=False):
    """A filtering attack's ranked candidates scored as Carlini et al. do."""

    n: int
    """Candidates (one per clique)."""
    precision: dict[str, float]
    """Share of candidates within δ of some member, by δ."""
    extracted: dict[str, int]
    """Distinct members within δ of some candidate, by δ."""
    nearest_l2: list[float]
    """Each candidate's ℓ2 to its nearest member, in rank order (absent when there are none)."""


class _PoolUse(TypedDict):
    """What a cell took from the sample pool (``bench.zoo.pool``; since schema 5). Its ``cost``
    stays what the attack would pay alone; this says how much of it the pool saved."""

    reused: list[list[int]]
    """Pool batches the cell read instead of sampling, as ``[seed, first, last]`` runs of batch
    indices (batches of 256, the last of a draw possibly shorter), diagnostic draws included."""
    unet_evaluations_run: int
    """``cost.unet_evaluations`` less those of the reused batches that the cost charges and of
    the adopted shards: the evaluations the cell actually ran for its cost. A budget-curve
    prefix carries its full run's."""


class PoolUse(_PoolUse, total=False):
    """What a cell took instead of running it: pool batches and, since schema 7, its own shards
    at another budget. Its ``cost`` stays what the attack would pay alone."""

    adopted: list[list[int]]
    """Output shards the cell took from its run at another budget instead of making them (a
    budget curve after a grid cell), as ``[budget, first, last]`` runs of shard indices; their
    UNet and classifier evaluations were run once, by that run (since schema 7)."""


class _Runtime(TypedDict):
    """How the cell computed (since schema 5): what can move a result by rounding alone."""

    compiled: bool
    """Whether the UNet ran through ``torch.compile`` (``--compile``, ``BENCH_COMPILE=1``)."""
    threads: int
    """torch's intra-op threads (``BENCH_THREADS``)."""


class Runtime(_Runtime, total=False):
    """How the cell computed: what can move a result by rounding alone."""

    unet_batch: int | None
    """The most images one UNet call saw (the model card's ``[scheduler] unet_batch``); None:
    each batch whole (since schema 6)."""


class MemberManifest(TypedDict):
    """The member set a user listed with ``--members`` instead of a dataset scale."""

    path: str
    """The manifest file as given."""
    n: int
    """Member images it lists."""


class _Required(TypedDict):
    attack: str
    """The attack card's name."""
    model: str
    """The zoo card's name, or a user's folder named by folder, weights digest and a digest of
    its sampling (sampler class and config, steps), so each sampling setting is its own cell."""
    seed: int
    """The run seed every random draw derives from."""
    budget: int
    """N_G: the number of outputs scored."""
    params: dict[str, Any]
    """The attack's parameters: the card's defaults for the profile with any overrides."""
    metrics: Metrics
    """The outputs scored against members and non-members."""


class RunRecord(_Required, total=False):
    """One benchmark cell (or one budget of a curve): everything needed to reproduce it."""

    schema: int
    """Record schema version (absent means 1)."""
    attack_version: int
    """The attack card's version; an older one files the record as superseded."""
    model_version: int
    """The model card's version (0 for a user's folder)."""
    dataset: str
    """The dataset card's name."""
    dataset_version: int
    """The dataset card's version."""
    scale: str
    """The member set: a dataset scale, or ``<n>-listed`` for a user's manifest."""
    profile: str
    """The profile (cpu, cpu32, paper) whose defaults and N_G the cell used."""
    cost: Cost
    """Model evaluations spent."""
    candidates: Candidates | None
    """A filtering attack's candidates; None for attacks whose outputs are the answer."""
    canaries: Canaries | None
    """Duplicate tiers scored apart; None for models without duplicated members."""
    info: dict[str, Any]
    """What the attack reports about itself (``AttackResult.info``; its diagnostics)."""
    checkpoint_sha256: str
    """The weights attacked."""
    external: bool
    """True for a user's diffusers folder (``--model-path``; since schema 3)."""
    model_path: str
    """That folder (external records only)."""
    member_manifest: MemberManifest
    """The listed member set (``--members`` only)."""
    model_config: dict[str, Any]
    """The full diffusers configs of the UNet and sampler (since schema 3)."""
    data_cache: dict[str, str]
    """The preprocessed-image caches members and non-members came from (since schema 2)."""
    commit: str
    """The code's git commit (``+dirty`` for uncommitted changes outside reports/)."""
    versions: dict[str, str]
    """Library versions (python, torch, diffusers, faiss, numpy)."""
    machine: str
    """The host, and the GPU when one computed."""
    outputs: str
    """The output shards' folder, relative to BENCH_HOME."""
    wall_seconds: float
    """The attack's wall time in this process (scoring excluded): shards adopted from a donor
    cell (``pool.adopted``) were paid for, and timed, in that cell's record."""
    prefix_of: int
    """Budget-curve records only: the budget of the run whose prefix this record scores. Its
    ``outputs``, ``wall_seconds``, ``pool`` and ``runtime`` describe that run; ``cost`` is the
    prefix's share (``bench.runner.curves.prefix_cost``)."""
    pool: PoolUse
    """The sample-pool batches the cell reused and the UNet evaluations it ran (since
    schema 5)."""
    runtime: Runtime
    """A compiled UNet or not and torch's threads (since schema 5), and the images per UNet
    call where the card slices its batches (``unet_batch``, since schema 6)."""


def declared_keys(kind: Any) -> frozenset[str]:
    """Every key a TypedDict declares, required or optional, its bases' included."""
    return frozenset(kind.__required_keys__ | kind.__optional_keys__)
