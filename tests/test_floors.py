"""The CI floor rule: mean − 3σ over seeds, never tighter than one output, never below zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.cards import attack_card
from bench.runner.floors import summarise


def test_floor_is_three_sigmas_below_the_mean() -> None:
    s = summarise([0.30, 0.40, 0.50], "ums.high", budget=128)
    assert s["std"] == pytest.approx(0.1)
    assert s["floor"] == pytest.approx(0.4 - 0.3)


def test_identical_seeds_still_leave_one_output_of_margin() -> None:
    s = summarise([1.0, 1.0, 1.0], "ams.high", budget=128)
    assert s["floor"] == pytest.approx(1.0 - 1 / 128)


def test_counts_keep_one_member_of_margin_and_stay_non_negative() -> None:
    assert summarise([5.0, 5.0, 5.0], "extracted.0.05", budget=128)["floor"] == 4.0
    assert summarise([0.0, 0.0, 0.0], "extracted.0.05", budget=128)["floor"] == 0.0


def test_metric_paths_reach_metrics_info_and_candidates() -> None:
    from bench.runner.floors import floored_metrics, metric

    rec = {
        "attack": "side",  # its class floors info.steering_rate (Side.floor_metrics)
        "metrics": {"ums": {"high": 0.25}, "extracted": {"0.05": 7}, "gu_fraction": 0.5},
        "info": {"steering_rate": 0.4},
        "candidates": {"precision": {"0.05": 0.9}},
    }
    assert metric(rec, "ums.high") == 0.25 and metric(rec, "extracted.0.05") == 7
    assert metric(rec, "gu_fraction") == 0.5 and metric(rec, "info.steering_rate") == 0.4
    assert metric(rec, "candidates.precision.0.05") == 0.9
    assert floored_metrics(rec)[-2:] == ["info.steering_rate", "candidates.precision.0.05"]
    two = {**rec, "candidates": {"precision": {"0.05": 0.9, "0.1": 1.0}}}
    assert floored_metrics(two)[-2:] == ["candidates.precision.0.05", "candidates.precision.0.1"]
    assert "info.steering_rate" not in floored_metrics({**rec, "info": {}, "candidates": None})


def test_weaker_names_every_metric_below_its_floor() -> None:
    from bench.runner.floors import weaker

    spec = {"metrics": {"ums.high": {"floor": 0.2}, "info.steering_rate": {"floor": 0.3}}}
    rec = {"metrics": {"ums": {"high": 0.25}}, "info": {"steering_rate": 0.01}}
    assert weaker(spec, rec) == {"info.steering_rate": (0.01, 0.3)}


def test_mutations_switch_their_mechanism_off(trained) -> None:
    from bench.attacks.carlini import Carlini
    from bench.attacks.classifier import ClassifierGuidance, NoisyClassifier
    from bench.attacks.mutations import mutations_for
    from bench.attacks.side import Side, SideTI
    from tests.conftest import cell_record

    side = mutations_for(Side(guidance_scale=1.0, n_syn=4), attack_card("side"))
    assert set(side) == {
        "guidance off (λ = 0)",
        "gradient sign flipped",
        "time-independent classifier",
    }
    side_ti = mutations_for(SideTI(guidance_scale=1.0, n_syn=4), attack_card("side-ti"))
    assert set(side_ti) == {"guidance off (λ = 0)", "gradient sign flipped"}
    with side["guidance off (λ = 0)"]({"guidance_scale": 3.0}) as overrides:
        assert overrides["guidance_scale"] == 0.0
    guide = ClassifierGuidance(NoisyClassifier(3, 8), 1.0)
    x, t, y = torch.randn(2, 3, 8, 8), torch.tensor([5, 5]), torch.tensor([0, 1])
    with side["gradient sign flipped"]({}):
        flipped = guide.log_prob_grad(x, t, y)
    assert torch.equal(flipped, -guide.log_prob_grad(x, t, y))
    with side["time-independent classifier"]({}):
        assert Side.time_dependent is False
    assert Side.time_dependent is True
    mutate = mutations_for(Carlini(edge_threshold=0.1), attack_card("carlini"))["clique filter off"]
    with mutate({"clique_k": 2}) as overrides:
        rec = cell_record("carlini", "8", seed=0, overrides=overrides, write=False)
    assert rec["candidates"]["n"] == rec["budget"]


def test_text_conditional_mutations_withdraw_captions_and_the_filter(trained) -> None:
    from bench.attacks.mutations import mutations_for
    from bench.attacks.text_conditional import TextConditional
    from tests.conftest import cell_record

    found = mutations_for(TextConditional(0.1, per_caption=2), attack_card("text-conditional"))
    assert set(found) == {"one caption for every output", "clique filter off"}
    with found["one caption for every output"]({"per_caption": 2}) as overrides:
        assert (
            TextConditional(0.1, overrides["per_caption"]).prompts(("b", "a", "a"), 6) == ["a"] * 6
        )
    with found["clique filter off"]({"per_caption": 2, "clique_k": 2}) as overrides:
        rec = cell_record(
            "text-conditional", "8", seed=0, overrides=overrides, progress=False, write=False
        )
    assert rec["candidates"]["n"] == rec["budget"]


def test_a_mutated_run_never_resumes_from_the_real_runs_outputs(trained) -> None:
    """The sign flip keeps the parameters, hence the output folder: only ``fresh`` reruns it."""
    from bench.attacks.mutations import mutations_for
    from bench.attacks.side import Side
    from bench.attacks.store import RunStore
    from bench.utils.paths import bench_home
    from tests.conftest import FAST_SIDE, cell_record

    def outputs(**kw: object) -> np.ndarray:
        rec = cell_record(
            "side", "8", seed=0, overrides=FAST_SIDE, progress=False, write=False, **kw
        )
        return RunStore(bench_home() / rec["outputs"]).images()

    real = outputs()
    flip = mutations_for(Side(guidance_scale=1.0, n_syn=4), attack_card("side"))[
        "gradient sign flipped"
    ]
    with flip(FAST_SIDE):
        assert np.array_equal(outputs(), real)  # resumed: the mutation never ran
        assert not np.array_equal(outputs(fresh=True), real)
