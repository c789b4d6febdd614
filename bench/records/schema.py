"""What `bench report` needs of a run record, as pydantic models (``bench.utils.schema`` says why
a schema library): every field the leaderboard reads (``bench.report.frame.record_row``), with
its type and bounds. ``bench.records.types`` says what each field means and since which schema.

A record parses as JSON and still may not be one the leaderboard can use: ``budget`` 0 divides
by zero, ``members_hit`` an integer breaks the member-by-member comparison, a share above 1 (an
SSCD model returning zeros gave "UMS 800%") is no share. Each is refused here, naming the file and
the field, before the leaderboard or its plots are touched. Fields the report does not read pass
through unchecked (``Lenient``), so older and newer schemas read alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from bench.utils.schema import Lenient

Number = float  # strict: an int or a float, never a string, a bool or null
Count = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Index = Annotated[int, Field(ge=0)]


class Bands(Lenient):
    """A share in each ℓ2 band (``bench.metrics.bands.BAND_NAMES``)."""

    high: Share
    mid: Share
    low: Share


class ChanceMetrics(Lenient):
    ums: Bands
    hit_rate: Bands | None = None
    nearest_median: Count | None = None


class Metrics(Lenient):
    gu_fraction: Share
    nearest_median: Count | None = None
    ams: Bands
    ums: Bands
    hit_rate: Bands | None = None
    extracted: dict[str, Count]
    nonmember: ChanceMetrics
    members_hit: dict[str, list[Index]] | None = None


class Cost(Lenient):
    unet_evaluations: Count
    classifier_evaluations: Count


class MemberManifest(Lenient):
    n: Annotated[int, Field(ge=1)]


class Candidates(Lenient):
    n: Count
    extracted: dict[str, Count]


class TierHits(Lenient):
    high: Share


class Tier(Lenient):
    times: Annotated[float, Field(ge=1)]
    n: Count
    hit_rate: TierHits


class Canaries(Lenient):
    tiers: list[Tier] | None = None
    lowest_tier_reached: Count | None = None


class RecordHead(Lenient):
    """The fields every reader of a record relies on (``bench.records.io.read_record``)."""

    attack: str
    model: str
    seed: Index
    budget: Annotated[int, Field(ge=1)]
    params: dict[str, Any]
    metrics: dict[str, Any]


class ReportRecord(RecordHead):
    """A record as the leaderboard reads it."""

    scale: str
    profile: str
    dataset: str
    external: bool = False
    member_manifest: MemberManifest | None = None
    cost: Cost
    metrics: Metrics  # type: ignore[assignment]  # the head's object, now down to every field
    candidates: Candidates | None = None
    canaries: Canaries | None = None
    info: dict[str, Any] | None = None
