"""The record frame's column names, declared once (``bench.report.frame`` writes them).

Every table reads the frame through these names, so a renamed column is one edit here and a
misspelt one is an ``AttributeError`` at import, not an empty table. Columns that exist once per
band or per δ are functions of it.
"""

from __future__ import annotations

ATTACK = "attack"
MODEL = "model"
SCALE = "scale"
PROFILE = "profile"
BUDGET = "budget"
SEED = "seed"
PARAMS = "params"
CONFIG = "config"  # the record's cell key (``bench.records.cell_key``), its file name's hash
SHIPPED = "shipped"
DEFAULTS = "defaults"
EXTERNAL = "external"
STALE = "stale"
MEMBERS = "members"
UNET_EVALS = "unet_evals"
CLF_EVALS = "clf_evals"
EVALS = "evals"
GU = "gu"
NEAREST = "nearest"
NM_NEAREST = "nm_nearest"
RECORD = "record"
CANDIDATES = "candidates"
CANDIDATES_EXTRACTED = "candidates_extracted"
LOWEST_TIER = "lowest_tier"
TIER_HITS = "tier_hits"
DUPLICATED = "duplicated"
DIAG_TITLE = "diag_title"
DIAG_TEXT = "diag_text"
DIAG = "diag:"  # prefix of the attack's own diagnostics columns
CHANCE_HIGH = "chance_high"  # distinct members chance explains: non-member hit rate × members


def ums(band: str) -> str:
    return f"ums_{band}"


def ams(band: str) -> str:
    return f"ams_{band}"


def chance_ums(band: str) -> str:
    return f"chance_ums_{band}"


def distinct(band: str) -> str:
    return f"distinct_{band}"


def hit(band: str) -> str:
    return f"hit_{band}"


def nm_hit(band: str) -> str:
    return f"nm_hit_{band}"


def hits(key: str) -> str:
    """Which members a record hit (a frozenset; None before schema 4) in a band or within δ."""
    return f"hits_{key}"


def extracted(delta: str) -> str:
    return f"extracted_{delta}"


EXTRACTED = "extracted_"  # prefix of the ``extracted(δ)`` columns
DISTINCT_HIGH = distinct("high")
HITS_HIGH = hits("high")
NM_HIT_HIGH = nm_hit("high")
