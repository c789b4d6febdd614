"""SIDE's classifier stem (issue #32) and the neutral-value rule that let the new parameter land
without renaming a committed record or unmatching it from the card's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.attacks.classifier import STEMS, NoisyClassifier
from bench.attacks.side import Side
from bench.cards import attack_card
from bench.errors import BenchError
from bench.records import cell_key
from bench.runner.grid import grid_cells

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("stem", STEMS)
def test_the_stem_downsamples_by_its_factor(stem: int) -> None:
    clf = NoisyClassifier(5, 8, True, stem)
    x = torch.zeros(2, 3, 64, 64)
    assert clf.stem(x).shape[-2:] == (64 // stem, 64 // stem)
    assert clf(x, torch.zeros(2, dtype=torch.long)).shape == (2, 5)


def test_the_neutral_stem_is_the_classifier_earlier_caches_hold() -> None:
    keys = set(NoisyClassifier(5, 8, True, 1).state_dict())
    assert {"stem.weight", "stem.bias"} <= keys
    assert not any(k.startswith("stem.0") for k in keys)


def test_side_refuses_an_unknown_stem_and_a_model_it_cannot_divide() -> None:
    params = attack_card("side").params("test")
    with pytest.raises(BenchError, match="clf_stem"):
        Side(**{**params, "clf_stem": 3})
    side = Side(**{**params, "clf_stem": 4})
    side.check_model(64)
    with pytest.raises(BenchError, match="multiple of 16"):
        side.check_model(24)


def test_a_record_leaves_out_only_a_parameter_at_its_neutral_value() -> None:
    card = attack_card("side")
    assert "clf_stem" not in card.recorded(card.params("cpu"))
    assert card.recorded(card.params("cpu64"))["clf_stem"] == 4
    assert "syn_steps" not in card.recorded(card.params("cpu64"))
    assert card.recorded({**card.params("cpu"), "syn_steps": 10})["syn_steps"] == 10
    assert card.recorded(card.params("cpu64")) == {
        k: v for k, v in card.params("cpu64").items() if k != "syn_steps"
    }


def test_committed_side_records_keep_their_names_and_their_match_with_the_defaults() -> None:
    """Adding clf_stem and syn_steps renamed nothing: each SIDE record's file name still holds its
    key, and the records at the card's defaults still match them (the leaderboard's main rows)."""
    matched = 0
    for attack in ("side", "side-ti"):
        for path in sorted((REPO / "reports" / "runs" / attack).rglob("*.json")):
            rec = json.loads(path.read_text())
            assert not {"clf_stem", "syn_steps"} & set(rec["params"])
            assert cell_key(rec) in path.name
            card = attack_card(attack)
            current = card.recorded(card.params(rec["profile"]))
            matched += rec["attack_version"] == card.version and rec["params"] == current
    assert matched >= 30


def test_the_grid_runs_an_attack_only_in_the_profiles_its_card_declares(
    capsys: pytest.CaptureFixture,
) -> None:
    assert grid_cells(profile="cpu", attacks=["side-paper"]) == []
    assert "side-paper: its card declares no cpu profile" in capsys.readouterr().out


def test_a_neutral_value_of_another_type_is_refused(world: Path) -> None:
    path = world / "attacks" / "side.toml"
    path.write_text(path.read_text().replace("neutral = 1 ", "neutral = 1.0 "))
    with pytest.raises(BenchError, match="params.clf_stem .*neutral must have its values' type"):
        attack_card("side")


def test_sides_note_says_whether_its_filter_dropped_clusters() -> None:
    """The answer names, for each SIDE row, whether τ dropped anything (issue 32)."""
    all_kept = [{"clusters_kept": 100, "clusters": 100}] * 3
    assert Side.records_note(all_kept) == "its filter kept all K clusters in each of 3 records"
    some = [{"clusters_kept": 80, "clusters": 100}, {"clusters_kept": 95, "clusters": 100}]
    assert Side.records_note(some) == "its filter kept 80-95 of K = 100 clusters across 2 records"
    assert Side.records_note([{"steering_rate": 0.5}]) == ""
