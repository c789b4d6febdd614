"""Membership meets extraction: which members did any committed extraction run recover?

An extraction record (schema 4 on) names the members it hit per band (``metrics.members_hit``,
indices in the model's member manifest). A member counts as extracted when any record of that
model, of any attack and seed, hit it in the high band, the leaderboard's main count. Per
membership score, the AUC of "extracted vs not" among the scored members says how well the
inference score ranks the members extraction can recover (0.5: no better than chance), and the
Spearman ρ between the score and the number of records that hit a member says whether the members
extraction recovers most reliably are the ones inference flags most (0: unrelated).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.membership.protocol import auc
from bench.records import read_record

BAND = "high"


def extraction_hits(reports: Path, model: str) -> tuple[Counter[int], int]:
    """How many committed extraction records of the model hit each member (by manifest index)
    in the high band, and how many records name their members (schema 4 on; older records
    count hits without naming them, so they cannot say which members were recovered)."""
    hits: Counter[int] = Counter()
    naming = 0
    for path in sorted((reports / "runs").glob(f"*/{model}/*.json")):
        named = read_record(path)["metrics"].get("members_hit")
        if named is not None:
            naming += 1
            hits.update(set(named.get(BAND, [])))
    return hits, naming


def fitted_sign(record: dict[str, Any]) -> float:
    """The direction the protocol fitted on most split seeds (+1: members score higher)."""
    return float(np.sign(np.mean([r["direction"] for r in record["metrics"]["per_seed"]])) or 1.0)


def meets_extraction(record: dict[str, Any], extracted: Counter[int]) -> dict[str, Any]:
    """The inference score's AUC at ranking extracted above not-extracted members (in the
    record's fitted direction), with the counts (AUC None where either group is empty), and the
    Spearman correlation of the score with how many records hit each member: where every member
    was hit by some record, how reliably extraction recovers one is still graded."""
    scores = np.asarray(record["member_scores"])
    sign = fitted_sign(record)
    times = np.array([extracted[i] for i in record["member_indices"]])
    flag = times > 0
    out: dict[str, Any] = {"extracted": int(flag.sum()), "not_extracted": int((~flag).sum())}
    out["auc"] = (
        auc(sign * scores[flag], sign * scores[~flag]) if flag.any() and (~flag).any() else None
    )
    varied = np.ptp(times) > 0 and np.ptp(scores) > 0
    out["spearman"] = (
        float(pd.Series(scores).corr(pd.Series(times), method="spearman")) * sign
        if varied
        else None
    )
    return out
