"""Each method's defaults, chosen on the tuning model by the suite's one selection rule.

On ``celeba-192-tune-cpu`` (never ranked; its 192 members overlap no ranked model's), each value
the card's ``[sweep]`` lists is scored on the members and the track's held-out images, at each
tuning seed (100, 101, 102: the split, and the loss's noise), by the held-out AUC. The pick is the
extraction sweeps' (``bench/metrics/selection.py``): the card's value stays unless another beats it
by a paired one-sided Student t on the per-seed AUC differences at α = 0.05, Bonferroni-corrected
over the values compared with it, so every attack and method is tuned alike. AUC and not
TPR@1%FPR, because the tuning model's 96 evaluation members make TPR at 1% a count of a handful.

The first sweeps (card version 1) picked by an earlier rule: a "paper" value stayed unless beaten
by two standard errors of the paired differences, and a suite's-choice value went to the highest
mean. ``bench mia tune --rejudge`` applies the current rule to the committed rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.cards import ModelCard
from bench.membership.cards import MethodCard, method_class
from bench.membership.protocol import evaluate
from bench.membership.score import score_model
from bench.metrics.selection import ValueScores, select_value

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


def choose(rows: list[dict[str, Any]], incumbent: Any) -> tuple[Any, str]:
    """The value the rule picks from a sweep's rows, with the card's value before the sweep
    (``incumbent``) as the one to beat, and why (the deciding or the closest test)."""
    scores = [
        ValueScores(
            r["value"], {"AUC": dict(zip(TUNING_SEEDS, r["auc"]))}, "held-out", percent=False
        )
        for r in rows
    ]
    pick = select_value(scores, None, incumbent)
    return pick.value, pick.reason(incumbent).strip(" ()")
