"""SIDE's calibrated cohesion filter selects (tau_null_q = 1): it keeps no cluster of
structureless data and keeps planted copies; the aim audit reads where guidance pointed. The
cards' v4 default switches the filter off, by the tuning sweep's verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.attacks.clusters import SurrogateLabels, surrogate_labels
from bench.attacks.side_diagnostics import aim_audit
from bench.cards import attack_card

# The spectrum of pixel-PCA features of faces falls off; 1/sqrt(rank) is a stand-in.
SPECTRUM = 1 / np.sqrt(np.arange(1, 65))


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _defaults(attack: str) -> dict:
    return attack_card(attack).params("cpu")


def _structureless(rng: np.random.Generator, n: int = 1024) -> np.ndarray:
    return _unit(rng.normal(size=(n, len(SPECTRUM))) * SPECTRUM)


@pytest.mark.parametrize("k", [100, 200])
def test_the_calibrated_tau_keeps_no_cluster_of_the_null(k: int) -> None:
    """The calibration itself (tau_null_q = 1), at the paper's K and the card's: the cards' v4
    default switches the filter off by the tuning sweep's verdict, which is a separate fact."""
    d = _defaults("side")
    rng = np.random.default_rng(0)
    kept = [surrogate_labels(_structureless(rng), k, d["tau"], s, 1.0).kept for s in range(10)]
    # 10 × K clusters of data with nothing in common; the paper's τ alone keeps nearly all.
    assert sum(kept) <= 1, kept
    paper_tau = surrogate_labels(_structureless(rng), 100, d["tau"], 0, 0.0)
    assert paper_tau.kept >= 90


def test_the_calibrated_tau_keeps_planted_copies() -> None:
    d = _defaults("side")
    rng = np.random.default_rng(1)
    x = _structureless(rng)
    centres = _structureless(rng, 20)
    for j, c in enumerate(centres):  # 20 images copied 15 times each, with small noise
        x[15 * j : 15 * (j + 1)] = _unit(c + 0.2 * rng.normal(size=(15, 64)) * SPECTRUM)
    s = surrogate_labels(x, 100, d["tau"], 0, 1.0)
    planted_labels = [np.unique(s.labels[15 * j : 15 * (j + 1)]) for j in range(20)]
    assert sum(len(lab) == 1 for lab in planted_labels) >= 18  # each copy set in one cluster
    assert len(np.unique(np.concatenate(planted_labels))) >= 18  # and those clusters distinct
    assert s.kept <= 30  # the 1,024 − 300 structureless images form next to no kept cluster
    summary = s.summary()
    assert summary["clusters_kept"] == s.kept and summary["clusters"] == 100
    assert summary["bar_min"] <= summary["bar_median"] <= summary["bar_max"] < np.inf


def test_a_singleton_cluster_is_never_kept_under_the_null() -> None:
    x = _structureless(np.random.default_rng(2), 64)
    s = surrogate_labels(x, 64, -1.0, 0, 1.0)  # K = N: k-means leaves singletons
    assert (s.sizes[np.flatnonzero(s.cohesion >= s.bars)] >= 2).all()


def test_aim_audit_counts_outputs_aimed_at_clusters_holding_copies() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    s = SurrogateLabels(
        labels=labels,
        kept=3,
        clusters=3,
        cohesion=np.ones(3),
        sizes=np.full(3, 2),
        bars=np.zeros(3),
        centroids=np.eye(3),
    )
    copy = np.array([True, False, False, False, True, True])  # clusters 0 and 2 hold copies
    nearest = np.array([7, 1, 2, 3, 9, 9])
    out = aim_audit(s, np.array([0, 1, 1, 2]), nearest, copy)
    assert out == {
        "aimed_at_copies": 0.5,
        "clusters_with_copies": 2,
        "synthetic_copies": 3,
        "synthetic_members": 2,
    }


def test_a_tuning_model_is_never_ranked(trained: Path) -> None:
    from bench.cards import model_card
    from bench.runner.grid import grid_cells
    from bench.zoo.load import checkpoint_status

    args = {"attacks": ["carlini"], "profile": "cpu", "seeds": [0], "budget": 8}
    assert any(c.model.name == "tiny-8" for c in grid_cells(**args))
    card = trained / "models" / "tiny-8.toml"
    card.write_text('role = "tuning"\n' + card.read_text())
    assert checkpoint_status(model_card("tiny-8")) == "trained"  # still usable, just not ranked
    assert all(c.model.name != "tiny-8" for c in grid_cells(**args))


def test_zoo_list_shows_the_tuning_models_headroom() -> None:
    from bench.zoo.manage import zoo_rows

    (row,) = [r for r in zoo_rows(committed_only=True) if r["role"] == "tuning"]
    assert row["name"] == "celeba-192-tune-cpu" and row["status"] == "trained"
    assert row["headroom"] == "42 copied by 2,048 samples vs 19.7 by carlini at N_G 512"
    # ...and the headroom is what its committed records say.
    from bench.records import read_record
    from bench.utils.paths import reports_dir

    runs = sorted((reports_dir() / "sweeps" / "runs" / "carlini" / row["name"]).glob("*.json"))
    distinct = {
        (r["seed"], r["budget"]): round(r["metrics"]["ums"]["high"] * r["budget"])
        for r in map(read_record, runs)
    }
    assert distinct == {(9, 2048): 42, (100, 512): 17, (101, 512): 19, (102, 512): 23}
