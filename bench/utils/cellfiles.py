"""The schemas of the JSON files a cell keeps beside its output shards, which feed its record:
``wall.json`` (the seconds its outputs have cost, over every attempt), the pool ledgers
(``pool-rank<r>.json``: the sample-pool batches it made or reused, the shards it adopted) and the
metadata of a cached model state (``prep/<key>.json``: the digest of its tensors and its
training statistics, which SIDE copies into its record).

Both are caches under BENCH_HOME, read with ``bench.utils.schema.parse_cache``: a value no run
writes (a negative or absurd time, ``null``, a negative count) is damage, so the file is removed
with a notice and made again, never copied into ``wall_seconds`` or ``pool.unet_evaluations_run``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from bench.utils.schema import MAX_SECONDS, Strict

Count = Annotated[int, Field(ge=0, lt=2**63)]


class WallFile(Strict):
    """``wall.json``: the attack seconds this cell's outputs have cost so far."""

    seconds: Annotated[float, Field(ge=0, le=MAX_SECONDS)]


# (seed, index, length, evaluations, charged) for pool batches; (donor budget, index, length,
# UNet evaluations, classifier evaluations) for adopted shards: five non-negative integers.
Entry = tuple[Count, Count, Count, Count, Count]


class LedgerFile(Strict):
    """A pool ledger; ``adopted`` is absent from ledgers written before record schema 7."""

    made: list[Entry]
    reused: list[Entry]
    adopted: list[Entry] = []


class TensorsMeta(Strict):
    """``prep/<key>.json`` beside ``prep/<key>.safetensors``: the tensors' SHA-256, so a state
    swapped or edited on disk is made again, and the statistics made with them, which the
    caller's own schema checks (SIDE's: ``bench.attacks.side_diagnostics.ClassifierStats``)."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    stats: dict[str, Any]
