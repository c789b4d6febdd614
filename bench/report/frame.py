"""Run records as one flat table: the leaderboard's tables are all views of this frame.

A record enters the leaderboard's main table only when it is *current*: made with its attack
card's present version and defaults, on the checkpoint the model card now names, at the profile's
shared budget N_G. Everything else stays visible, filed apart with the reason, so an old number is
never read as today's.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.attacks.declared import diagnostics
from bench.cards import attack_card, dataset_card, model_cards
from bench.data.manifests import read_manifest
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.records import cell_key, check_report_fields, read_record, staleness
from bench.report import columns as C

BANDS = BAND_NAMES


def read_records(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every record under ``folder``, each checked down to the fields the tables read."""
    return [
        (path, check_report_fields(path, read_record(path)))
        for path in sorted(folder.rglob("*.json"))
    ]


def _with_defaults(rec: dict[str, Any]) -> bool:
    """Ran with the attack card's current defaults (at any budget)."""
    try:
        acard = attack_card(rec["attack"])
        return rec["params"] == acard.recorded(acard.params(rec["profile"]))
    except (BenchError, KeyError):
        return False


def _at_shared_budget(rec: dict[str, Any]) -> bool:
    """Ran at the profile's shared output budget, the one the main table compares."""
    try:
        return rec["budget"] == int(dataset_card(rec["dataset"]).metrics["budget"][rec["profile"]])
    except (BenchError, KeyError):
        return False


def _tiers(canaries: dict[str, Any] | None) -> dict[str, Any]:
    """Duplicated-member columns: reach (lowest tier in the high band) and hits per tier."""
    if not canaries:
        return {C.LOWEST_TIER: np.nan, C.TIER_HITS: ""}
    if "tiers" not in canaries:  # schema-1 records: one canary tier, no hit rates
        return {C.LOWEST_TIER: np.nan, C.TIER_HITS: ""}
    hits = " ".join(
        f"×{t['times']}:{round(t['hit_rate']['high'] * t['n'])}/{t['n']}" for t in canaries["tiers"]
    )
    low = canaries["lowest_tier_reached"]
    return {C.LOWEST_TIER: np.nan if low is None else low, C.TIER_HITS: hits}


def _diagnostics(rec: dict[str, Any]) -> dict[str, Any]:
    """The attack's own diagnostics (``Attack.diagnostics``) as ``diag:<label>`` columns, with
    the title and text of the leaderboard section they belong to."""
    title, text, columns = diagnostics(rec["attack"], rec.get("info"))
    if not columns:
        return {C.DIAG_TITLE: "", C.DIAG_TEXT: ""}
    return {
        C.DIAG_TITLE: title,
        C.DIAG_TEXT: text,
        **{f"{C.DIAG}{k}": v for k, v in columns.items()},
    }


@functools.cache
def pool_size(dataset: str) -> int:
    """The held-out non-member pool's size: what chance counts are scaled from."""
    return len(read_manifest(dataset_card(dataset).nonmembers))


def record_row(path: Path, root: Path, rec: dict[str, Any]) -> dict[str, Any]:
    m = rec["metrics"]
    cost = rec["cost"]
    defaults = _with_defaults(rec)
    row: dict[str, Any] = {
        C.ATTACK: rec["attack"],
        C.MODEL: rec["model"],
        C.SCALE: rec["scale"],
        C.PROFILE: rec["profile"],
        C.BUDGET: rec["budget"],
        C.SEED: rec["seed"],
        C.PARAMS: json.dumps(rec["params"], sort_keys=True),
        C.CONFIG: cell_key(rec),
        C.SHIPPED: defaults and _at_shared_budget(rec),
        C.DEFAULTS: defaults,
        C.EXTERNAL: bool(rec.get("external", False)),
        C.STALE: staleness(rec),
        C.MEMBERS: member_count(rec),
        C.UNET_EVALS: cost["unet_evaluations"],
        C.CLF_EVALS: cost["classifier_evaluations"],
        C.EVALS: cost["unet_evaluations"] + cost["classifier_evaluations"],
        C.GU: m["gu_fraction"],
        C.NEAREST: m.get("nearest_median", np.nan),
        C.NM_NEAREST: m["nonmember"].get("nearest_median", np.nan),
        C.RECORD: str(path.relative_to(root)),
        C.INFO: rec.get("info") or {},
        **_candidates(rec.get("candidates")),
        **_tiers(rec.get("canaries")),
        # Whether the model has duplicated members (canary and ladder models): claims compare
        # plain models, where every member appears once.
        C.DUPLICATED: bool(rec.get("canaries")),
        **_diagnostics(rec),
        # Which members were hit (schema 4 on); None for older records, which say only how many.
        **{C.hits(k): _hits(m, k) for k in ("high", "0.05")},
    }
    for band in BANDS:
        row[C.ams(band)] = m["ams"][band]
        row[C.ums(band)] = m["ums"][band]
        row[C.distinct(band)] = round(m["ums"][band] * rec["budget"])
        # Older records lack hit_rate; it is exactly the distinct hits (UMS × N_G) over the pool.
        hits = m["ums"][band] * rec["budget"]
        nm_hits = m["nonmember"]["ums"][band] * rec["budget"]
        row[C.hit(band)] = m.get("hit_rate", {}).get(band, hits / row[C.MEMBERS])
        row[C.nm_hit(band)] = (
            m["nonmember"].get("hit_rate", {}).get(band, nm_hits / pool_size(rec["dataset"]))
        )
    # The members chance alone puts in the high band: the non-member hit rate scaled to the
    # member set, the count a claim is corrected by.
    row[C.CHANCE_HIGH] = row[C.NM_HIT_HIGH] * row[C.MEMBERS]
    for delta, n in m["extracted"].items():
        row[C.extracted(delta)] = n
    row.update(_sscd(m.get("sscd"), rec["budget"], row[C.MEMBERS], rec["dataset"]))
    return row


def _sscd(sscd: dict[str, Any] | None, budget: int, members: int, dataset: str) -> dict[str, Any]:
    """The high band in SSCD similarity (NaN and None where the record was not scored in it):
    distinct members (UMS × N_G), the members chance explains (the non-members' distinct hits
    over the pool, × the member set) and which members were hit."""
    if not sscd:
        return {C.SSCD_DISTINCT_HIGH: np.nan, C.SSCD_CHANCE_HIGH: np.nan, C.SSCD_HITS_HIGH: None}
    nm_rate = sscd["nonmember"]["ums"]["high"] * budget / pool_size(dataset)
    return {
        C.SSCD_DISTINCT_HIGH: round(sscd["ums"]["high"] * budget),
        C.SSCD_CHANCE_HIGH: nm_rate * members,
        C.SSCD_HITS_HIGH: frozenset(sscd["members_hit"].get("high", ())),
    }


def in_sscd(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows scored in SSCD similarity, their high-band columns (distinct members, chance,
    hits) replaced by SSCD's: the answer's tests read the high band by those names, so the same
    tests judge a claim in the paper's metric."""
    if frame.empty or C.SSCD_DISTINCT_HIGH not in frame:
        return frame.iloc[0:0]
    scored = frame[frame[C.SSCD_DISTINCT_HIGH].notna()]
    return scored.assign(
        **{
            C.DISTINCT_HIGH: scored[C.SSCD_DISTINCT_HIGH].astype(int),
            C.CHANCE_HIGH: scored[C.SSCD_CHANCE_HIGH],
            C.HITS_HIGH: scored[C.SSCD_HITS_HIGH],
        }
    )


def _hits(metrics: dict[str, Any], key: str) -> frozenset[int] | None:
    hit = metrics.get("members_hit", {}).get(key)
    return None if hit is None else frozenset(hit)


def member_count(rec: dict[str, Any]) -> int:
    """The member set's size: the dataset scale's, or that of the files a user listed."""
    if "member_manifest" in rec:
        return rec["member_manifest"]["n"]
    return dataset_card(rec["dataset"]).check_scale(rec["scale"])["size"]


def _candidates(cand: dict[str, Any] | None) -> dict[str, float]:
    """Candidate count and members they extract at the strictest δ (NaN for non-filtering)."""
    if not cand:
        return {C.CANDIDATES: np.nan, C.CANDIDATES_EXTRACTED: np.nan}
    strictest = min(cand["extracted"], key=float)
    return {C.CANDIDATES: cand["n"], C.CANDIDATES_EXTRACTED: cand["extracted"][strictest]}


def load_records(root: Path, kind: str = "runs") -> pd.DataFrame:
    """One row per record under ``root/kind`` (``runs`` or ``curves/runs``)."""
    # A tuning model's records are evidence for a default, never a ranking (cards' ``role``).
    tuning = {c.name for c in model_cards() if c.role == "tuning"}
    rows = [
        record_row(p, root, rec)
        for p, rec in read_records(root / kind)
        if rec.get("model") not in tuning
    ]
    return pd.DataFrame(rows)
