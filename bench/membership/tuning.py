"""Each method's defaults, chosen on the tuning model by a rule fixed before the sweep.

The rule (written here and in ``reports/membership.md`` before any sweep ran): on
``celeba-192-tune-cpu`` (never ranked; its 192 members overlap no ranked model's), each value the
card's ``[sweep]`` lists is scored on the members and the track's held-out images, and judged at
each tuning seed (100, 101, 102: the split, and the loss's noise) by the held-out AUC. A value the
card marks "paper" stays unless another value's mean AUC beats it by more than two standard errors
of their paired differences over the seeds; a value that is the suite's choice goes to the value
with the highest mean AUC (the first listed on a tie). AUC and not TPR@1%FPR, because the tuning
model's 96 evaluation members make TPR at 1% a count of a handful.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.cards import ModelCard
from bench.membership.cards import MethodCard, method_class
from bench.membership.protocol import evaluate
from bench.membership.score import score_model

TUNING_SEEDS = (100, 101, 102)


def sweep(mcard: MethodCard, model: ModelCard, root: Path) -> list[dict[str, Any]]:
    """One row per swept value: the AUC at each tuning seed and the records' cost."""
    rows = []
    for value in mcard.sweep_values:
        params = mcard.params({mcard.sweep_param: value})
        aucs, cost, rec = [], 0, None
        for seed in TUNING_SEEDS:
            if rec is None or method_class(mcard).stochastic:
                rec = score_model(mcard, params, model, root, seed=seed)
                cost += rec["cost"]["unet_evaluations"]
            m, h = np.array(rec["member_scores"]), np.array(rec["heldout_scores"])
            aucs.append(evaluate(m, h, seeds=(seed,), boot=0)["per_seed"][0]["auc"])
        rows.append({"value": value, "auc": aucs, "unet_evaluations": cost})
    return rows


def choose(mcard: MethodCard, rows: list[dict[str, Any]]) -> tuple[Any, str]:
    """The value the rule picks, and why."""
    means = [float(np.mean(r["auc"])) for r in rows]
    source = mcard.sources.get(mcard.sweep_param, "")
    incumbent = mcard.defaults[mcard.sweep_param]
    values = [r["value"] for r in rows]
    if not source.startswith("paper") or incumbent not in values:
        best = int(np.argmax(means))
        return values[best], f"highest mean AUC ({means[best]:.3f}); the card's value is ours"
    base = np.array(rows[values.index(incumbent)]["auc"])
    beaten = []
    for i, r in enumerate(rows):
        diff = np.array(r["auc"]) - base
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
        if diff.mean() > 2 * se and diff.mean() > 0:
            beaten.append(i)
    if not beaten:
        return incumbent, "the paper's value: no other beat it by more than 2 standard errors"
    best = max(beaten, key=lambda i: means[i])
    why = f"beat the paper's value by more than 2 standard errors ({means[best]:.3f})"
    return values[best], why
