"""Attacks end to end on tiny trained models, the clique filter, guidance and the threat model."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.attacks.base import ModelView
from bench.attacks.cliques import find_cliques, tiled_l2
from bench.attacks.store import RunStore
from bench.cards import attack_card, model_card
from bench.cli import main
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.metrics.selection import ValueScores, select_value
from bench.runner.sweep import selection_line, sweep_values
from bench.utils.paths import bench_home
from bench.zoo.build import build_sampler
from bench.zoo.load import load_denoiser
from bench.zoo.sampling import sample_batch
from tests.conftest import FAST_SIDE, cell_record, set_card_values


def _check_record(rec: dict, attack: str, budget: int) -> None:
    for key in (
        "schema",
        "attack",
        "model",
        "dataset",
        "scale",
        "profile",
        "seed",
        "budget",
        "cost",
        "metrics",
        "checkpoint_sha256",
        "commit",
        "versions",
    ):
        assert key in rec, key
    assert rec["attack"] == attack and rec["budget"] == budget
    assert rec["metrics"]["n_outputs"] == budget
    assert set(rec["versions"]) >= {"torch", "diffusers", "faiss"}


@pytest.mark.parametrize("attack", ["carlini", "side", "side-ti"])
def test_unconditional_attacks_end_to_end(trained: Path, attack: str) -> None:
    overrides = FAST_SIDE if attack.startswith("side") else {"clique_k": 2}
    rec = cell_record(attack, "8", seed=3, budget=16, overrides=overrides)
    _check_record(rec, attack, 16)
    steps = model_card("tiny-8").scheduler["sampling_steps"]
    if attack == "carlini":
        assert rec["cost"] == {
            "unet_evaluations": 16 * steps,
            "classifier_evaluations": 0,
            "prep_unet_evaluations": 0,
            "prep_classifier_evaluations": 0,
        }
        assert rec["candidates"]["n"] == rec["info"]["cliques"]
    else:
        assert rec["cost"]["unet_evaluations"] == (16 + 32) * steps  # outputs + synthetic set
        assert rec["cost"]["classifier_evaluations"] == 16 * steps + 4 * 8
        assert rec["cost"]["prep_unet_evaluations"] == 32 * steps
        assert rec["cost"]["prep_classifier_evaluations"] == 4 * 8
        info = rec["info"]
        assert info["time_dependent"] == (attack == "side")
        assert 0 <= info["steering_rate"] <= 1
        assert info["steering_chance"] == pytest.approx(1 / info["clusters_kept"], abs=1e-4)
        assert set(info["heldout_accuracy"]) == {"t0", "t25", "t50", "t75", "t90"}  # T = 100
        assert info["clusters"] == 4 and 1 <= info["clusters_kept"] <= 4
        assert info["cohesion_min"] <= info["cohesion_median"] <= info["cohesion_max"]
        scored = info["scored"]  # the synthetic set against the members, after the run
        assert 0 <= scored["aimed_at_copies"] <= 1
        assert scored["synthetic_members"] <= min(8, scored["synthetic_copies"])
        assert scored["clusters_with_copies"] <= info["clusters_kept"]
    written = bench_home() / rec["outputs"]
    assert len(list(written.glob("shard-*.npz"))) == 1


def test_text_conditional_end_to_end(trained: Path) -> None:
    rec = cell_record(
        "text-conditional",
        "8",
        seed=0,
        budget=16,
        overrides={"per_caption": 4, "clique_k": 2},
        progress=False,
    )
    _check_record(rec, "text-conditional", 16)
    assert rec["model"] == "tiny-8-caption"
    assert rec["info"]["captions_prompted"] == 4
    assert rec["info"]["unique_captions"] <= rec["info"]["training_captions"] == 8


def test_rerun_resumes_from_shards(trained: Path) -> None:
    first = cell_record(
        "carlini", "8", seed=1, budget=300, overrides={"clique_k": 2}, progress=False
    )
    out = bench_home() / first["outputs"]
    images = RunStore(out).images()
    (out / "shard-00001.npz").unlink()  # as if killed while writing the second shard
    second = cell_record(
        "carlini", "8", seed=1, budget=300, overrides={"clique_k": 2}, progress=False
    )
    assert np.array_equal(RunStore(out).images(), images)
    assert second["metrics"] == first["metrics"] and second["cost"] == first["cost"]


def test_attacks_never_see_training_images(
    trained: Path, celeba_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {f.name for f in dataclasses.fields(ModelView)}
    assert fields == {
        "denoiser",
        "make_sampler",
        "resolution",
        "sampling_steps",
        "conditioning",
        "store",
        "captions",
    }
    rec = cell_record("side", "8", seed=0, budget=16, overrides=FAST_SIDE)
    assert rec["metrics"]["n_outputs"] == 16
    # With the data root gone, every attack still runs on its view alone.
    import shutil

    from bench.attacks.base import load_attack
    from bench.cards import attack_card

    shutil.rmtree(celeba_root)
    monkeypatch.delenv("BENCH_DATA")
    for name, model, params in (
        ("carlini", "tiny-8", {"clique_k": 2}),
        ("side-ti", "tiny-8", FAST_SIDE),
        ("text-conditional", "tiny-8-caption", {"per_caption": 4}),
    ):
        card = model_card(model)
        acard = attack_card(name)
        view = ModelView(
            load_denoiser(card),
            lambda c=card: build_sampler(c),
            card.resolution,
            4,
            card.conditioning,
            RunStore(bench_home() / rec["outputs"] / name),
            captions=("a smiling young woman",) * 8 if model.endswith("caption") else None,
        )
        result = load_attack(acard, {**acard.params("cpu"), **params}).run(view, 8, 0)
        assert result.n_outputs == 8


def test_classifier_guidance_moves_a_trained_models_samples(trained: Path) -> None:
    """λ = 0 is DDIM with ε from the clipped x_0 (tests/test_guidance.py); λ = 50 moves samples."""
    from bench.attacks.classifier import ClassifierGuidance, NoisyClassifier

    card = model_card("tiny-8")
    den = load_denoiser(card)
    guidance = ClassifierGuidance(NoisyClassifier(3, 8), scale=0.0)
    labels = torch.tensor([0, 1, 2, 0])

    def draw(**kw: object) -> torch.Tensor:
        return sample_batch(
            den, build_sampler(card), 4, 8, 4, torch.Generator().manual_seed(5), **kw
        )

    still = draw(guidance=guidance, labels=labels)
    guidance.scale = 50.0
    pushed = draw(guidance=guidance, labels=labels)
    assert (pushed - still).abs().mean() > 0.01


def test_nan_outputs_stop_the_run_before_any_record(trained: Path) -> None:
    """λ = 1e30 is finite, so it passes the checks; the guided samples it makes are NaN."""
    from bench.records.paths import user_results

    with pytest.raises(BenchError, match="sampling produced NaN pixels"):
        cell_record("side", "8", budget=8, overrides={**FAST_SIDE, "guidance_scale": 1e30})
    assert not list(user_results().rglob("*.json"))
    assert not list((bench_home() / "runs").rglob("shard-*.npz"))


def _planted(rng: np.random.Generator) -> tuple[np.ndarray, list[set[int]]]:
    """Three groups of near-copies (sizes 5, 4, 3) among 20 unrelated images."""
    base = rng.integers(0, 256, (23, 16, 16, 3)).astype(np.int16)
    images, groups, i = [], [], 0
    for g, size in enumerate((5, 4, 3)):
        members = set()
        for _ in range(size):
            images.append(np.clip(base[g] + rng.integers(-3, 4, base[g].shape), 0, 255))
            members.add(i)
            i += 1
        groups.append(members)
    images.extend(base[3:])
    return np.stack(images).astype(np.uint8), groups


def test_clique_filter_finds_planted_groups() -> None:
    images, groups = _planted(np.random.default_rng(0))
    found = find_cliques(images, threshold=0.05, k=3, grid=4)
    cliques = found.cliques
    assert found.capped == 0
    assert sorted(map(frozenset, (c.members for c in cliques)), key=min) == [
        frozenset(g) for g in groups
    ]
    assert [len(c.members) for c in find_cliques(images, 0.05, 4, 4).cliques] in ([5, 4], [4, 5])
    for c in cliques:
        assert c.representative in c.members


@pytest.mark.parametrize("size", [16, 15])
def test_the_pooled_range_search_misses_no_edge(size: int) -> None:
    """The candidate pairs come from 2×2-pooled images (odd sizes unpooled); every pair whose
    tiled ℓ2 is within the threshold must still be an edge, as an all-pairs check finds."""
    from bench.attacks.cliques import edges
    from bench.runner.workload import copy_groups

    grid = 4 if size % 4 == 0 else 5
    images = copy_groups(240, size, 0.5, 30, seed=3)
    i, j = np.triu_indices(len(images), 1)
    brute = tiled_l2(images[i], images[j], grid)
    pairs, dists = edges(images, 0.08, grid)
    near = brute <= 0.08
    assert 0 < near.sum() < len(brute)  # near-cliques: some pairs over the threshold
    assert {tuple(p) for p in pairs.tolist()} == set(zip(i[near].tolist(), j[near].tolist()))
    assert np.allclose(np.sort(dists), np.sort(brute[near]))


def test_clique_filter_does_not_merge_nearby_groups() -> None:
    """Two tight groups that differ in one tile only: global ℓ2 is small, tiled ℓ2 is not."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (16, 16, 3)).astype(np.int16)
    b = a.copy()
    b[:4, :4] = 255 - b[:4, :4]  # one tile of 16 changed
    imgs = [np.clip(x + rng.integers(-2, 3, x.shape), 0, 255) for x in (a, a, a, b, b, b)]
    images = np.stack(imgs).astype(np.uint8)
    glob = np.sqrt(((images[0] / 255.0 - images[3] / 255.0) ** 2).mean())
    assert tiled_l2(images[:1], images[3:4], 4)[0] > 0.3 > glob
    cliques = find_cliques(images, threshold=0.3, k=3, grid=4).cliques
    assert sorted((set(c.members) for c in cliques), key=min) == [{0, 1, 2}, {3, 4, 5}]


def test_unknown_attack_and_scale_exit_2(trained: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--attack", "nope", "--scale", "8"]) == 2
    err = capsys.readouterr().err.strip()
    valid = "valid: carlini, side, side-paper, side-ti, text-conditional"
    assert err.count("\n") == 0 and valid in err
    assert main(["run", "--attack", "side", "--scale", "3k"]) == 2
    assert "unknown scale '3k'" in capsys.readouterr().err
    assert main(["run", "--attack", "carlini", "--scale", "24"]) == 2
    assert "zoo train tiny-24" in capsys.readouterr().err


def test_a_second_card_for_a_scale_is_an_error_naming_both(
    world: Path, capsys: pytest.CaptureFixture
) -> None:
    from tests.conftest import model_card_text

    (world / "models" / "another-8.toml").write_text(model_card_text("another-8", "8"))
    assert main(["run", "--attack", "carlini", "--scale", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "tiny-8 (" in err and "another-8 (" in err
    assert "--model" in err


def test_run_json_is_one_object(trained: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["budget"] == 8


def test_sweep_keeps_its_records_out_of_the_leaderboard(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.report.frame import load_records
    from bench.utils.paths import cards_dir, reports_dir

    card = cards_dir("attacks") / "side.toml"
    set_card_values(card, "cpu", {**FAST_SIDE, "guidance_scale": 1.0})
    args = ["sweep", "--attack", "side", "--scale", "8", "--budget", "8", "--values", "0,1"]
    assert main([*args, "--publish"]) == 0
    out = capsys.readouterr().out
    assert "guidance_scale=0.0, seed 0: UMS high" in out
    assert "guidance_scale=1.0, seed 0: UMS high" in out
    table = (reports_dir() / "sweeps" / "side-tiny-8-guidance_scale-seed0-n8.md").read_text()
    assert table.count("sweeps/runs/side/tiny-8/seed0-n8-") == 2
    # λ = 1 is the card default, yet the tuning run never joins the leaderboard's seeds.
    assert not (reports_dir() / "runs").exists() or load_records(reports_dir()).empty
    # A second sweep adding a value reuses the committed runs of the values it shares.
    assert main([*args[:-1], "0,1,2", "--publish"]) == 0
    out = capsys.readouterr().out
    assert out.count(": kept sweeps/runs/side/tiny-8/seed0-n8-") == 2
    assert "guidance_scale=2.0, seed 0: UMS high" in out


def scores(value: object, *bands: list[float]) -> ValueScores:
    """A swept value's UMS per band (high, mid, low; missing bands read 0) at seeds 0, 1, …"""
    n = len(bands[0])
    full = [*bands, *[[0.0] * n] * (3 - len(bands))]
    return ValueScores(value, {b: dict(enumerate(v)) for b, v in zip(BAND_NAMES, full)})


def test_sweep_selection_prefers_the_strictest_band_then_the_smaller_value() -> None:
    assert select_value([scores(0, [0.1], [0.0]), scores(2, [0.2], [0.0])]).value == 2
    assert select_value([scores(0, [0.1], [0.0], [0.9]), scores(5, [0.1], [0.1])]).value == 5
    same = [scores(1, [0.1], [0.1], [0.1]), scores(5, [0.1], [0.1], [0.1])]
    assert select_value(same).value == 1


def test_the_cards_value_stays_unless_beaten_by_the_paired_t_test() -> None:
    """A sweep adopts a new default only where the leaderboard's test (paired one-sided Student
    t at α, Bonferroni over the values compared with the card's) would; hand-computed cases."""
    card = [5.0, 6.0, 7.0]
    # Paired differences 0.3, 0.4, 0.2: mean 0.3, SD 0.1, SE 0.0577, t = 5.196 on 2 df, one-sided
    # p = (1 − t/√(t² + 2))/2 = 0.0176 < 0.05: 64 wins. Unpaired, the seeds' own spread (SD 1.0)
    # would bury the 0.3 lead (Welch SE 0.81): pairing is what decides it.
    pick = select_value([scores(32, card), scores(64, [5.3, 6.4, 7.2])], None, 32)
    assert pick.value == 64 and pick.metric == "high"
    assert pick.test.paired and pick.test.df == 2
    assert pick.test.p_above() == pytest.approx(0.0176, abs=2e-4)
    assert "paired t, df 2, one-sided p 0.018" in pick.reason(32)
    assert (
        select_value([scores(32, [5.0, 6.0, 7.0]), scores(64, [6.3, 5.4, 7.2])], None, 32).value
        == 32
    )
    # Differences 0.1, 0.3, 0.4: t = 3.024, p = 0.047. Alone against the card it wins at 0.05; with
    # a second value swept the level is 0.025 and the card stays.
    close = scores(64, [5.1, 6.3, 7.4])
    assert select_value([scores(32, card), close], None, 32).value == 64
    other = scores(16, [4.0, 5.0, 6.5])
    kept = select_value([scores(32, card), close, other], None, 32)
    assert kept.value == 32 and kept.kept and kept.rival == 64 and kept.level == 0.025
    assert "not beaten; closest: 64 against the card's 32" in kept.reason(32)
    assert "one-sided p 0.047 against a level of 0.025" in kept.reason(32)
    # A tie in the high band (here exact) passes the comparison to the mid band.
    mid_win = [scores(32, card, [1.0, 2.0, 3.0]), scores(64, card, [2.0, 3.1, 4.0])]
    pick = select_value(mid_win, None, 32)
    assert pick.value == 64 and pick.metric == "mid"
    # A value clearly below the card's in a stricter band cannot win in a later one.
    worse = scores(16, [4.0, 5.1, 5.9], [9.0, 9.0, 9.0])
    assert select_value([scores(32, card, [1.0, 1.0, 1.0]), worse], None, 32).value == 32
    # Without the card's value among those swept, the best mean.
    assert select_value([scores(64, [5.1, 6.3, 7.4]), scores(16, [4.0, 5.0, 6.5])]).value == 64
    # One seed has no measurable spread, so any lead counts.
    assert select_value([scores(32, [5.6]), scores(64, [5.7])], None, 32).value == 64
    # A card value that switches the mechanism off is never held.
    assert select_value([scores(0, [6.0, 6.0]), scores(10, [5.0, 5.1])], [0], 0).value == 10


@pytest.mark.parametrize(
    ("param", "values", "message"),
    [
        ("nonsense", ["1"], "has no parameter 'nonsense'"),
        ("clf_steps", ["10.5"], "clf_steps must be an integer"),
        ("guidance_scale", ["nan"], "guidance_scale must be finite"),
        ("guidance_scale", ["two"], "guidance_scale takes a number"),
        ("clf_steps", None, "give at least one value of clf_steps"),
    ],
)
def test_sweep_refuses_values_it_cannot_apply(
    world: Path, param: str, values: list[str] | None, message: str
) -> None:
    with pytest.raises(BenchError, match=message):
        sweep_values(attack_card("side"), "cpu", param, values)


def test_sweep_values_take_the_card_defaults_type(world: Path) -> None:
    assert sweep_values(attack_card("side"), "cpu", "clf_steps", ["100", "200", "100"]) == [
        100,
        200,
    ]
    assert sweep_values(attack_card("side"), "cpu", "features", ["pca", "unet-mid"]) == [
        "pca",
        "unet-mid",
    ]


def test_no_guidance_is_a_reference_row_never_the_pick() -> None:
    side = attack_card("side")
    assert side.reference_values("guidance_scale") == [0.0]
    assert side.reference_values("clf_steps") == []  # only λ switches SIDE's mechanism off
    rows = [scores(0.0, [0.5], [0.5]), scores(10.0, [0.5], [0.1]), scores(20.0, [0.5], [0.2])]
    assert select_value(rows, side.reference_values("guidance_scale")).value == 20.0
    assert select_value(rows, side.reference_values("clf_steps")).value == 0.0


def test_a_user_card_declares_its_own_mechanism_switch(world: Path) -> None:
    """A user's attack card names the values that switch its mechanism off; no Python needed."""
    from bench.attacks.carlini import Carlini
    from bench.attacks.mutations import mutations_for

    path = world / "attacks" / "carlini.toml"
    text = path.read_text()
    path.write_text(
        text.replace("[params.clique_k]\n", '[params.clique_k]\noff = { "no filter" = 1 }\n')
    )
    card = attack_card("carlini")
    assert card.reference_values("clique_k") == [1]
    assert mutations_for(Carlini, card)["no filter"].params == {"clique_k": 1}
    path.write_text(text.replace("[params.clique_k]\n", "[params.clique_k]\noff = 1\n"))
    with pytest.raises(BenchError, match="params.clique_k.off is 1: input should be a valid dict"):
        attack_card("carlini")


def test_string_sweeps_tie_to_the_value_listed_first() -> None:
    pair = [scores("unet-mid", [0.1], [0.0], [0.2]), scores("pca", [0.1], [0.0], [0.2])]
    assert select_value(pair).value == "unet-mid"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("clf_steps", "--set takes key=value"),
        ("nonsense=1", "has no parameter 'nonsense'"),
        ("guidance_scale=inf", "must be finite"),
        ("clf_steps=3.5", "must be an integer"),
    ],
)
def test_set_refuses_what_the_card_cannot_take(
    world: Path, capsys: pytest.CaptureFixture, item: str, message: str
) -> None:
    assert main(["run", "--attack", "side", "--scale", "8", "--set", item]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_set_overrides_reach_the_attack_and_the_record(trained: Path) -> None:
    from bench.cards.overrides import parse_sets

    sets = [f"{k}={v}" for k, v in FAST_SIDE.items()] + ["features=unet-mid"]
    overrides = parse_sets(attack_card("side"), "cpu", sets)
    assert overrides["clf_steps"] == 4 and overrides["features"] == "unet-mid"
    rec = cell_record(
        "side", "8", seed=0, budget=8, overrides=overrides, progress=False, write=False
    )
    assert rec["params"]["features"] == "unet-mid" and rec["params"]["n_syn"] == 32


def test_sweep_says_so_when_no_value_wins() -> None:
    def rows(value: float) -> list[dict[str, float]]:
        return [{"value": value, "seed": 0, "ums_high": 0.1, "ums_mid": 0.0, "ums_low": 0.2}]

    line = selection_line([rows(1), rows(2)], "clique_k", [])
    assert line.startswith("No clique_k selected")
    line = selection_line([rows(1)], "clique_k", [])
    assert line.startswith("Selected clique_k = 1. Rule: ") and "α = 0.05" in line


def test_a_sweep_over_several_seeds_picks_on_the_mean(trained: Path) -> None:
    """One record per value and seed; the table's row is the mean, so one seed's margin of a
    member cannot decide the pick alone."""
    from bench.runner.sweep import mean_row
    from bench.utils.paths import bench_home

    args = ["sweep", "--attack", "carlini", "--scale", "8", "--budget", "8"]
    assert main([*args, "--param", "clique_k", "--values", "2,3", "--seeds", "100,101"]) == 0
    records = sorted((bench_home() / "results" / "sweeps" / "runs").rglob("*.json"))
    assert [p.name.split("-")[0] for p in records].count("seed101") == 2 and len(records) == 4
    table = bench_home() / "results" / "sweeps" / "carlini-tiny-8-clique_k-seeds100-101-n8.md"
    assert "mean over seeds 100, 101" in table.read_text()

    def row(seed_ums: float, tier: int) -> dict[str, object]:
        return {
            "value": 5,
            "seed": tier,
            "ums_high": seed_ums,
            "lowest_tier": tier,
            "record": f"r{tier}",
        }

    mean = mean_row([row(0.1, 32), row(0.2, 16)])
    assert mean == {
        "value": 5,
        "seeds": 2,
        "ums_high": pytest.approx(0.15),
        "ums_high_se": pytest.approx(0.05),
        "lowest_tier": "32, 16",
        "record": "r32, r16",
    }


def test_a_sweep_on_a_duplicated_model_reports_its_tiers(
    world: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.utils.paths import bench_home
    from bench.zoo.manage import train_card

    train_card(model_card("tiny-24-canary"), None, progress=False)
    sets = [
        arg for k, v in FAST_SIDE.items() if k != "guidance_scale" for arg in ("--set", f"{k}={v}")
    ]
    args = ["sweep", "--attack", "side", "--scale", "24", "--model", "tiny-24-canary"]
    assert main([*args, "--budget", "8", "--values", "0,1", *sets]) == 0
    tables = list((bench_home() / "results" / "sweeps").glob("side-tiny-24-canary-*.md"))
    assert len(tables) == 1
    text = tables[0].read_text()
    assert "duplicated_high" in text and "lowest_tier" in text and "steering" in text


def test_a_profile_borrows_defaults_and_overrides_them(world: Path) -> None:
    """``[defaults_from]`` gives a profile without its own tuning another profile's values, under
    any value a parameter declares for it; a loop or a missing source is refused at load."""
    path = world / "attacks" / "carlini.toml"
    text = path.read_text()
    table = '[defaults_from]\ncpu32 = "cpu"\n'
    assert table in text
    cpu = attack_card("carlini").params("cpu")
    assert attack_card("carlini").params("cpu32") == cpu
    path.write_text(
        text.replace(table, table + 'wide = "cpu"\n').replace(
            "[params.clique_k]\n", "[params.clique_k]\nwide = 5\n"
        )
    )
    card = attack_card("carlini")
    assert card.defaults_from == {"cpu32": "cpu", "cpu64": "cpu", "wide": "cpu"}
    assert card.params("wide") == {**cpu, "clique_k": 5}
    path.write_text(text.replace(table, table + 'wide = "nowhere"\n'))
    with pytest.raises(BenchError, match="names no profile with its own values"):
        attack_card("carlini")
    path.write_text(text.replace(table, table + 'cpu = "cpu32"\n'))
    with pytest.raises(BenchError, match="names no profile with its own values"):
        attack_card("carlini")


def _near_clique(n: int, missing: float, seed: int) -> dict[int, set[int]]:
    rng = np.random.default_rng(seed)
    adj: dict[int, set[int]] = {i: set() for i in range(n)}
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() >= missing:
                adj[i].add(j)
                adj[j].add(i)
    return adj


def test_the_clique_search_stops_at_its_budget_on_a_near_clique() -> None:
    """Hundreds of copies of one image with a few pairs over the threshold make a near-clique,
    on which exact search is exponential (this one ran past 2 minutes before the budget): the
    search returns a clique it found and says it is not proven maximum."""
    from bench.attacks import cliques

    adj = _near_clique(100, 0.02, 1)
    found, exact = cliques.max_clique(set(adj), adj)
    assert not exact and len(found) >= 40
    assert all(v in adj[u] for u in found for v in found if u != v)
    # A graph the search finishes on is proven, and its answer is the true maximum.
    small = _near_clique(12, 0.3, 2)
    best, proven = cliques.max_clique(set(small), small)
    assert proven
    brute = max(
        (
            c
            for r in range(len(small), 0, -1)
            for c in itertools.combinations(small, r)
            if all(v in small[u] for u, v in itertools.combinations(c, 2))
        ),
        key=len,
    )
    assert len(best) == len(brute)


def test_a_capped_search_is_counted_in_the_record_info(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.attacks import cliques
    from bench.attacks.carlini import filtered_result
    from bench.attacks.cliques import Clique, CliqueSearch

    images = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    exact = CliqueSearch((Clique((0, 1), 0.1, 0),))
    info = filtered_result(images, exact, 0).info
    assert "cliques_capped" not in info and "clique_searches_capped" not in info
    capped = CliqueSearch((Clique((0, 1), 0.1, 0), Clique((2, 3), 0.2, 2, exact=False)), 1)
    info = filtered_result(images, capped, 0).info
    assert info["cliques_capped"] == 1 and info["clique_searches_capped"] == 1
    # A search stopped before it reached a clique of k leaves no candidate to mark, and the
    # record still says the filter stopped early: the planted groups were there to be found.
    planted, _ = _planted(np.random.default_rng(0))
    monkeypatch.setattr(cliques, "SEARCH_BUDGET", 1)
    short = find_cliques(planted, threshold=0.05, k=3, grid=4)
    assert short.cliques == () and short.capped >= 1
    info = filtered_result(planted, short, 0).info
    assert info["clique_searches_capped"] == short.capped and info["cliques_capped"] == 0


def test_a_cost_parameter_takes_the_cheapest_value_not_clearly_below_the_cards() -> None:
    """The cost rule (``cheapest_not_worse``), hand-computed: the card's value 0 (costliest) at
    UMS high 7.0, 6.0, 6.5 over three seeds (SD 0.5)."""
    from bench.metrics.selection import cheapest_not_worse

    card = scores(0, [7.0, 6.0, 6.5])
    costs = {0: 400.0, 10: 100.0, 20: 160.0}
    # 10 drops by 1.0, 0.9, 1.1 (mean 1.0, SE 0.0577, t = 17.3 on 2 df, p 0.0017 < 0.05): out.
    # 20 moves by −0.1, +0.2, −0.1 (mean 0, SE 0.1): no clear drop, so the cheapest left wins.
    pick = cheapest_not_worse(
        [card, scores(10, [6.0, 5.1, 5.4]), scores(20, [6.9, 6.2, 6.4])], costs, 0
    )
    assert pick.value == 20 and pick.level == 0.05
    metric, test, power = pick.tests[10]
    assert metric == "high" and test.p_below() == pytest.approx(0.00166, abs=1e-4)
    assert 0 < pick.tests[20][2] < 1  # its power to see a drop of one SD (0.5) at SE 0.1
    assert "the cheapest value not clearly below the card's" in pick.reason(0)
    # Both cheaper values clearly below: the card's value stays, and says so.
    kept = cheapest_not_worse([card, scores(10, [6.0, 5.1, 5.4])], costs, 0)
    assert kept.value == 0 and "every cheaper value is clearly below it" in kept.reason(0)
    # A value costlier than the card's (0 against the card's 20) is never tested, nor adopted.
    costlier = cheapest_not_worse([scores(20, [6.9, 6.2, 6.4]), card], costs, 20)
    assert costlier.value == 20 and costlier.tests == {}
    # Listing more cheaper values never makes the rule laxer. 10 now drops by 0.5, 0.3, 0.8 (mean
    # 0.533, SE 0.145, t 3.67 on 2 df, p 0.033): clearly below at α 0.05 whether it is the only
    # cheaper value or one of two (a Bonferroni split, 0.025 each, would have adopted it). With
    # 15 beside it (no drop), 15 is the cheapest value left; alone, the card's value stays.
    costs[15] = 130.0
    drop = scores(10, [6.5, 5.7, 5.7])
    alone = cheapest_not_worse([card, drop], costs, 0)
    beside = cheapest_not_worse([card, drop, scores(15, [6.9, 6.2, 6.4])], costs, 0)
    assert alone.tests[10][1].p_below() == pytest.approx(0.0335, abs=1e-3)
    assert alone.level == beside.level == 0.05
    assert alone.value == 0 and beside.value == 15


def test_the_cost_rule_counts_classifier_evaluations_as_the_equal_compute_tables_do() -> None:
    """A classifier-only cost (``clf_steps``: the same UNet evaluations at every value) is still a
    cost: the sweep table's rule reads UNet and classifier evaluations together, so 500 steps,
    not clearly below 1,500, replaces it, and 4,000 (costlier than the card's) is never adopted."""
    from bench.runner.sweep import selection_line

    def rows(value: int, high: list[float], classifier: int) -> list[dict]:
        return [
            {
                "value": value,
                "seed": 100 + i,
                "ums_high": h,
                "ums_mid": h,
                "ums_low": h,
                "unet_evaluations": 435_200,
                "evaluations": 435_200 + classifier,
            }
            for i, h in enumerate(high)
        ]

    per_value = [
        rows(500, [6.9, 6.2, 6.4], 32_000 + 25_600),
        rows(1500, [7.0, 6.0, 6.5], 96_000 + 25_600),
        rows(4000, [7.5, 6.8, 6.9], 256_000 + 25_600),
    ]
    line = selection_line(per_value, "clf_steps", [], incumbent=1500, cost_only=True)
    assert line.startswith("Selected clf_steps = 500 (the cheapest value not clearly below")
    assert "UNet and classifier alike" in line
