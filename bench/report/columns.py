"""The record frame's column names, declared once (``bench.report.frame`` writes them).

Every table reads the frame through these names, so a renamed column is one edit here and a
misspelt one is an ``AttributeError`` at import, not an empty table. Columns that exist once per
band or per δ are functions of it.
"""

from __future__ import annotations

from collections.abc import Callable

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
INFO = "info"  # the record's own ``info`` (a dict; the attack's diagnostics read it)
CANDIDATES = "candidates"
CANDIDATES_EXTRACTED = "candidates_extracted"
LOWEST_TIER = "lowest_tier"
TIER_HITS = "tier_hits"
DUPLICATED = "duplicated"
DIAG_TITLE = "diag_title"
DIAG_TEXT = "diag_text"
DIAG = "diag:"  # prefix of the attack's own diagnostics columns
CHANCE_HIGH = "chance_high"  # distinct members chance explains: non-member hit rate × members
# The same three high-band quantities in SSCD similarity, where the record was scored in it.
SSCD_DISTINCT_HIGH = "sscd_distinct_high"
SSCD_CHANCE_HIGH = "sscd_chance_high"
SSCD_HITS_HIGH = "sscd_hits_high"


def _per(prefix: str) -> Callable[[str], str]:
    """The column of one band or δ: ``<prefix>_<key>``."""
    return lambda key: f"{prefix}_{key}"


ums = _per("ums")
ams = _per("ams")
distinct = _per("distinct")
hit = _per("hit")
nm_hit = _per("nm_hit")
hits = _per("hits")  # which members a record hit (a frozenset; None before schema 4)
extracted = _per("extracted")

EXTRACTED = "extracted_"  # prefix of the ``extracted(δ)`` columns
DISTINCT_HIGH = distinct("high")
HITS_HIGH = hits("high")
NM_HIT_HIGH = nm_hit("high")
