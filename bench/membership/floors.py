"""CI's floors for the track, and the mutations that must fall below them.

A floor is the lower end of a committed record's AUC interval, set for each method on the floor
models wherever that end lies above 0.55 (a method at chance there has nothing to floor). Two
mutations must score below every floor they face:

- ``ignores the model``: the same method with every query answered x̂₀ = 0 (``BlindQueries``), so
  its score is a function of the image alone; it also checks that the held-out set is not told
  apart from the members by image statistics;
- ``shuffled member set``: the record's own scores with the member and held-out labels shuffled
  (seeded), so "members" are a random draw from the pooled images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.cards import model_card
from bench.membership import store
from bench.membership.cards import method_card, method_names
from bench.membership.protocol import evaluate
from bench.membership.queries import BlindQueries
from bench.membership.score import score_model

# Suite's choice: the two smallest plain 16 px models, where membership is measurable. The 1k
# ladder was the first choice, dropped because every method there lies within 0.05 AUC of chance
# (its duplicated tiers show in the per-tier table instead); the cpu32 models would cost four
# times the evaluations per mutation run.
FLOOR_MODELS = ("celeba-64-cpu", "celeba-128-cpu")
ABOVE = 0.55
SHUFFLE_SEED = 0


def shuffled_auc(record: dict[str, Any], seed: int = SHUFFLE_SEED) -> float:
    m, h = np.asarray(record["member_scores"]), np.asarray(record["heldout_scores"])
    pooled = np.random.default_rng(seed).permutation(np.concatenate([m, h]))
    return evaluate(pooled[: len(m)], pooled[len(m) :], boot=0)["per_seed"][0]["auc"]


def blind_auc(record: dict[str, Any], root: Path) -> float:
    mcard = method_card(record["method"])
    blind = score_model(
        mcard, record["params"], model_card(record["model"]), root, record["seed"], BlindQueries
    )
    return blind["metrics"]["auc"]["mean"]


def measure(data: Path, reports: Path) -> dict[str, Any]:
    """Floors from the committed records under ``reports``, with each mutation's AUC."""
    out = []
    for model in FLOOR_MODELS:
        for name in method_names():
            path = store.run_path(reports, name, model)
            if not path.is_file():
                continue
            record = store.read_run(path)
            floor = record["metrics"]["auc"]["lo"]
            if floor <= ABOVE:
                continue
            mutations = {
                "ignores the model": blind_auc(record, data),
                "shuffled member set": shuffled_auc(record),
            }
            out.append(
                {
                    "method": name,
                    "model": model,
                    "auc": record["metrics"]["auc"]["mean"],
                    "floor": floor,
                    "mutations": {k: {"auc": v, "caught": v < floor} for k, v in mutations.items()},
                }
            )
    return {"above": ABOVE, "floors": out}
