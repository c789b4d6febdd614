"""Membership meets extraction, the ranking question: a carlini run's candidates and outputs
ranked by a membership score, measured against the clique filter's own order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.attacks.cliques import find_cliques
from bench.errors import BenchError
from bench.membership.rerank import rerank_run, run_outputs

PARAMS = {"edge_threshold": 0.08, "clique_k": 3, "tile_grid": 4}


def planted_run() -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """60 unrelated outputs, four copies each of members 0-2 (three cliques of copies) and a
    clique of four near-identical outputs of an image no member is (a clique that is no copy)."""
    rng = np.random.default_rng(7)
    members = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    stranger = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    noise = rng.integers(0, 256, (60, 16, 16, 3), dtype=np.uint8)
    copies = np.repeat(members[:3], 4, axis=0)
    look_alikes = np.repeat(stranger[None], 4, axis=0)
    outputs = np.concatenate([noise, copies, look_alikes])
    is_copy = np.r_[np.zeros(60, bool), np.ones(12, bool), np.zeros(4, bool)]
    cliques = find_cliques(outputs, PARAMS["edge_threshold"], PARAMS["clique_k"], 4).cliques
    record = {
        "attack": "carlini",
        "seed": 0,
        "outputs": "runs/x",
        "params": PARAMS,
        "metrics": {"bands": {"high": {"hi": 0.05}}},
        "candidates": {"n": len(cliques), "precision": {"0.01": 1.0, "0.1": 1.0}},
    }
    return record, outputs, members, is_copy


def test_a_score_that_flags_copies_puts_them_above_the_clique_that_is_none() -> None:
    record, outputs, members, is_copy = planted_run()
    rng = np.random.default_rng(8)
    flags = {"flags": is_copy + 0.1 * rng.random(len(outputs)), "blind": rng.random(len(outputs))}
    run = rerank_run(record, outputs, members, flags)
    assert run["candidates"] == 4 and set(run["edges"]) == {"high", "δ 0.01"}
    out = run["edges"]["high"]
    assert out["edge"] == 0.05 and out["copies"] == 12
    assert out["attack_order"]["distinct_members"] == 3
    m = out["methods"]["flags"]
    assert m["candidates_reranked"] == {"1": 1.0, "4": 0.75}
    assert m["all_outputs"]["precision"] == {"1": 1.0, "4": 1.0} and m["copy_auc"] == 1.0
    assert abs(out["methods"]["blind"]["copy_auc"] - 0.5) < 0.2


def test_outputs_that_are_not_the_records_are_refused() -> None:
    record, outputs, members, _ = planted_run()
    record["candidates"]["nearest_l2"] = [0.0, 0.0, 0.0, 0.3]
    with pytest.raises(BenchError, match="not the record's outputs"):
        rerank_run(record, outputs, members, {})
    record["candidates"]["n"] = 5
    with pytest.raises(BenchError, match="give 4 candidates, but the record holds 5"):
        rerank_run(record, outputs, members, {})


def test_missing_outputs_say_how_to_regenerate_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    record = {"attack": "carlini", "model": "m", "seed": 1, "budget": 512, "outputs": "runs/m/x"}
    (tmp_path / "runs" / "m" / "x").mkdir(parents=True)
    with pytest.raises(BenchError, match="bench run --attack carlini --model m --seed 1"):
        run_outputs(record)
    record["outputs"] = "../elsewhere"
    with pytest.raises(BenchError, match="does not lie inside"):
        run_outputs(record)
