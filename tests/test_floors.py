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


def _test_attack(name: str) -> object:
    from bench.attacks.base import load_attack

    card = attack_card(name)
    return load_attack(card, card.params("test"))


def test_mutations_switch_their_mechanism_off(trained) -> None:
    from bench.attacks.classifier import NoisyClassifier
    from bench.attacks.mutations import every_output, mutations_for
    from bench.attacks.side import Side, SideTI
    from tests.conftest import cell_record

    side = mutations_for(Side, attack_card("side"))
    assert set(side) == {
        "guidance off (λ = 0)",
        "gradient sign flipped",
        "time-independent classifier",
    }
    assert set(mutations_for(SideTI, attack_card("side-ti"))) == {
        "guidance off (λ = 0)",
        "gradient sign flipped",
    }
    assert side["guidance off (λ = 0)"].params == {"guidance_scale": 0.0}
    attack, other = _test_attack("side"), _test_attack("side")
    side["gradient sign flipped"].apply(attack)
    guide, real = attack.guide(NoisyClassifier(3, 8), 1.0), other.guide(NoisyClassifier(3, 8), 1.0)
    real.classifier.load_state_dict(guide.classifier.state_dict())
    x, t, y = torch.randn(2, 3, 8, 8), torch.tensor([5, 5]), torch.tensor([0, 1])
    assert torch.equal(guide.log_prob_grad(x, t, y), -real.log_prob_grad(x, t, y))
    side["time-independent classifier"].apply(attack)
    # The mutation changes the one instance it is given, never the class or another run.
    assert attack.time_dependent is False and other.time_dependent is True
    assert Side.time_dependent is True
    carlini = _test_attack("carlini")
    mutations_for(type(carlini), attack_card("carlini"))["clique filter off"].apply(carlini)
    assert carlini.candidate_filter is every_output
    assert _test_attack("carlini").candidate_filter is not every_output
    rec = cell_record(
        "carlini", "8", seed=0, overrides={"clique_k": 2}, write=False, mutation="clique filter off"
    )
    assert rec["candidates"]["n"] == rec["budget"]


def test_text_conditional_mutations_withdraw_captions_and_the_filter(trained) -> None:
    from bench.attacks.base import load_attack
    from bench.attacks.mutations import mutations_for
    from bench.attacks.text_conditional import TextConditional
    from tests.conftest import cell_record

    card = attack_card("text-conditional")
    found = mutations_for(TextConditional, card)
    assert set(found) == {"one caption for every output", "clique filter off"}
    one = found["one caption for every output"]
    attack = load_attack(card, {**card.params("test"), **one.params})
    assert attack.prompts(("b", "a", "a"), 6) == ["a"] * 6
    rec = cell_record(
        "text-conditional",
        "8",
        seed=0,
        overrides={"per_caption": 2, "clique_k": 2},
        progress=False,
        write=False,
        mutation="clique filter off",
    )
    assert rec["candidates"]["n"] == rec["budget"]


def test_an_unknown_mutation_is_one_line(trained) -> None:
    from bench.errors import BenchError
    from tests.conftest import cell_record

    with pytest.raises(BenchError, match="carlini has no mutation 'nope'; its mutations: "):
        cell_record("carlini", "8", write=False, mutation="nope")


def test_a_mutated_run_never_resumes_from_the_real_runs_outputs(trained) -> None:
    """The sign flip keeps the parameters, hence the output folder: only ``fresh`` reruns it."""
    from bench.attacks.store import RunStore
    from bench.utils.paths import bench_home
    from tests.conftest import FAST_SIDE, cell_record

    def outputs(**kw: object) -> np.ndarray:
        rec = cell_record(
            "side", "8", seed=0, overrides=FAST_SIDE, progress=False, write=False, **kw
        )
        return RunStore(bench_home() / rec["outputs"]).images()

    real = outputs()
    flip = "gradient sign flipped"
    assert np.array_equal(outputs(mutation=flip), real)  # resumed: the mutation never ran
    assert not np.array_equal(outputs(mutation=flip, fresh=True), real)
