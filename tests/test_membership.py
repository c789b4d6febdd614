"""The membership-inference track: its protocol, its methods against a model that memorised its
members, the cards, the held-out manifest, CI's floors and the report."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from bench.cards import dataset_card
from bench.cli import main
from bench.data.manifests import read_manifest
from bench.errors import BenchError
from bench.membership import store
from bench.membership.cards import build_method, method_card, method_class, method_names
from bench.membership.heldout import heldout_path, read_heldout, used_files
from bench.membership.protocol import auc, evaluate, supports, threshold, tier_rates
from bench.membership.queries import BlindQueries, Queries
from bench.membership.report import MEMBERS_CSV, members_table, render
from bench.utils.paths import REPO_ROOT

REPORTS = REPO_ROOT / "reports"
ROOT = os.environ.get("BENCH_DATA")
needs_data = pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="BENCH_DATA not set")


def test_auc_is_the_pairwise_win_rate_with_ties_half() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 60).astype(float)
    wins = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auc(pos, neg) == pytest.approx(wins)


def test_a_threshold_keeps_its_fpr_on_the_negatives_it_was_fitted_on() -> None:
    neg = np.random.default_rng(1).normal(size=871)
    for fpr in (0.01, 0.05):
        assert (neg > threshold(neg, fpr)).mean() <= fpr
        assert (neg >= threshold(neg, fpr)).mean() > fpr - 1 / len(neg)
    assert supports(871, 0.01) and not supports(871, 0.001) and supports(1000, 0.001)


def test_held_out_thresholds_separate_members_and_chance_stays_chance() -> None:
    rng = np.random.default_rng(2)
    held = rng.normal(size=800)
    far = evaluate(rng.normal(3, 1, 200), held, boot=50)
    assert far["auc"]["lo"] > 0.95 and far["tpr@0.01"]["mean"] > 0.5
    assert far["tpr@0.001"] is None  # 400 fitting negatives cannot fix a 0.1% threshold
    low = evaluate(rng.normal(-3, 1, 200), held, boot=50)  # the other direction is fitted
    assert low["auc"]["mean"] > 0.95 and all(r["direction"] == -1 for r in low["per_seed"])
    same = evaluate(rng.normal(size=200), held, boot=200)
    assert same["auc"]["lo"] < 0.5 < same["auc"]["hi"]
    assert same["tpr@0.01"]["mean"] < 0.05


def test_tier_rates_follow_the_duplicates() -> None:
    rng = np.random.default_rng(3)
    counts = np.array([64] * 16 + [1] * 184)
    scores = np.where(counts > 1, 6.0, 0.0) + rng.normal(size=200)
    tiers = tier_rates(scores, counts, rng.normal(size=600))
    assert list(tiers) == ["x64", "x1"]
    assert tiers["x64"]["tpr"] == 1.0 and tiers["x1"]["tpr"] < 0.1
    assert tiers["x64"]["members"] == 16


class Memoriser:
    """An x₀-predicting denoiser that memorised its training images: it answers the training
    image nearest to x_t/√ᾱ_t. Every method must tell its members from unseen images."""

    conditional = False
    prediction_type = "sample"
    device = torch.device("cpu")

    def __init__(self, train: torch.Tensor) -> None:
        self.train = train
        self.scheduler = DDPMScheduler(
            num_train_timesteps=1000, beta_schedule="linear", prediction_type="sample"
        )

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, captions=None) -> torch.Tensor:
        a = self.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
        guess = (x_t / a.sqrt()).flatten(1)
        return self.train[torch.cdist(guess, self.train.flatten(1)).argmin(1)]


def scores(method, queries: Queries, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return method.score(queries, images, torch.Generator().manual_seed(0)).numpy()


@pytest.mark.parametrize("name", ["loss", "secmi", "pia", "sima"])
def test_every_method_finds_a_memoriser_and_blind_queries_do_not(name: str) -> None:
    g = torch.Generator().manual_seed(4)
    members = torch.rand(40, 3, 8, 8, generator=g) * 2 - 1
    unseen = torch.rand(200, 3, 8, 8, generator=g) * 2 - 1
    card = method_card(name)
    method = build_method(card, card.params())
    queries = Queries(Memoriser(members))
    m, u = scores(method, queries, members), scores(method, queries, unseen)
    assert queries.evaluations == method.queries_per_image() * 240
    assert auc(m, u) > 0.95
    blind = BlindQueries(Memoriser(members))
    assert abs(auc(scores(method, blind, members), scores(method, blind, unseen)) - 0.5) < 0.15


class NoiseTwin:
    """An ε-predicting denoiser with a smooth, image-dependent answer, or (``kind="sample"``) its
    x₀-predicting twin: the same model written as x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, with √ᾱ_t and
    √(1−ᾱ_t) taken as the queries take them (float32). A method must score the twins alike: only
    the parametrisation differs."""

    conditional = False
    device = torch.device("cpu")

    def __init__(self, kind: str) -> None:
        self.prediction_type = kind
        self.scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, captions=None) -> torch.Tensor:
        a = self.scheduler.alphas_cumprod.to(torch.float32)[t].view(-1, 1, 1, 1)
        eps = torch.tanh(1.5 * x_t.roll(1, dims=-1) + t.view(-1, 1, 1, 1) / 1000)
        if self.prediction_type == "epsilon":
            return eps
        return (x_t - (1 - a).sqrt().to(x_t.dtype) * eps) / a.sqrt().to(x_t.dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_epsilon_from_an_x0_prediction_is_exact_down_to_t_0(dtype: torch.dtype) -> None:
    """PIA (ε̂ at t = 0) and SecMI (DDIM steps from t = 0) read ε off an x₀ model through
    ε̂ = (x_t − √ᾱ_t x̂₀)/√(1−ᾱ_t), which divides by √β₀ = 0.01 at t = 0. In float64 the twins
    agree to rounding; in float32 the x₀ twin's rounding (a few 1e-8 of |x_t|) is amplified by
    at most 1/√(1−ᾱ_t), so the disagreement stays within that bound and scores keep their order."""
    x = (torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(6)) * 2 - 1).to(dtype)
    eps_q, x0_q = Queries(NoiseTwin("epsilon")), Queries(NoiseTwin("sample"))
    rounding = 8 * torch.finfo(dtype).eps  # |x_t| ≤ 1, |ε̂| ≤ 1: a few roundings of each
    for t in (0, 1, 10, 100, 999):
        _, want = eps_q.x0_eps(x, t)
        _, got = x0_q.x0_eps(x, t)
        assert (got - want).abs().max() <= rounding / float((1 - eps_q.abar[t]).sqrt()), t
    for name in ("pia", "secmi", "sima"):
        card = method_card(name)
        method = build_method(card, card.params())
        want, got = scores(method, eps_q, x), scores(method, x0_q, x)
        assert np.allclose(got, want, rtol=1e-9 if dtype == torch.float64 else 1e-3), name
        assert (np.argsort(got) == np.argsort(want)).mean() > 0.9, name


def test_cards_name_their_class_paper_and_the_source_of_every_value() -> None:
    assert set(method_names()) >= {"loss", "secmi", "pia", "sima"}
    for name in method_names():
        card = method_card(name)
        assert method_class(card).threat_model == card.threat_model
        assert card.paper and card.sweep_param in card.defaults and card.sweep_values
        for key, source in card.sources.items():
            assert source.startswith(("paper", "suite's choice")), (name, key)
        for figure in card.published:  # a quoted figure says where it was read
            assert figure.where and figure.metric and figure.dataset, name
    for name in ("secmi", "pia", "sima"):  # each paper compared with is quoted or said not to be
        assert method_card(name).published or method_card(name).published_note, name


def test_a_published_figure_without_its_source_is_refused(tmp_path: Path, monkeypatch) -> None:
    card = (
        (REPO_ROOT / "membership" / "sima.toml").read_text().replace('name = "sima"', 'name = "x"')
    )
    (tmp_path / "membership").mkdir()
    cut = card.split('where = "', 1)
    (tmp_path / "membership" / "x.toml").write_text(cut[0] + cut[1].split("\n", 1)[1])
    monkeypatch.setenv("BENCH_CARDS", str(tmp_path))
    with pytest.raises(BenchError, match="a published figure lacks 'where'"):
        method_card("x")


def test_the_held_out_manifest_avoids_every_member_set_and_the_extraction_pool() -> None:
    data = dataset_card("celeba")
    held = read_heldout(data)
    assert len(held) == len(set(held)) > 1000
    assert not set(held) & used_files(data)
    assert not set(held) & set(read_manifest(data.nonmembers))


@needs_data
def test_the_held_out_manifest_is_what_the_seeded_draw_gives(tmp_path: Path) -> None:
    from bench.data.celeba import read_index
    from bench.membership.heldout import draw_heldout

    data = dataset_card("celeba")
    index = read_index(Path(ROOT))
    assert draw_heldout(data, index) == read_manifest(heldout_path(data))
    identity = dict(zip(index.files, index.identities.tolist()))
    taken = {identity[f] for f in used_files(data)}
    assert not {identity[f] for f in read_heldout(data)} & taken


def committed_floors() -> list[dict]:
    path = store.floors_path(REPORTS)
    return store.read_json(path)["floors"] if path.is_file() else []


def test_committed_records_clear_their_floors_and_the_mutations_do_not() -> None:
    floors = committed_floors()
    assert floors, "reports/membership/floors.json holds no floor"
    for f in floors:
        record = store.read_run(store.run_path(REPORTS, f["method"], f["model"]))
        assert record["metrics"]["auc"]["lo"] >= f["floor"] > 0.55
        for name, m in f["mutations"].items():
            assert m["auc"] < f["floor"] and m["caught"], (f["method"], f["model"], name)


def test_a_shuffled_member_set_falls_below_every_floor() -> None:
    from bench.membership.floors import shuffled_auc

    for f in committed_floors():
        record = store.read_run(store.run_path(REPORTS, f["method"], f["model"]))
        assert shuffled_auc(record, seed=1) < f["floor"]


@needs_data
def test_sima_ignoring_the_model_falls_below_its_floor_on_real_data() -> None:
    from bench.membership.floors import blind_auc

    f = next(f for f in committed_floors() if f["method"] == "sima")
    record = store.read_run(store.run_path(REPORTS, "sima", f["model"]))
    assert blind_auc(record, Path(ROOT)) < f["floor"] <= record["metrics"]["auc"]["mean"]


def test_the_committed_report_is_what_the_records_give() -> None:
    assert (REPORTS / "membership.md").read_text() == render(REPORTS)
    assert (REPORTS / MEMBERS_CSV).read_text() == members_table(REPORTS)


def leaderboard_record(tmp_path: Path, method: str, model: str, flip: bool) -> None:
    record = store.read_run(store.run_path(REPORTS, "loss", "celeba-64-cpu"))
    record.update(method=method, model=model, method_version=method_card(method).version)
    record["metrics"]["auc"] = {"mean": 0.8123, "lo": 0.7, "hi": 0.9}
    record["metrics"]["tpr@0.01"] = {"mean": 0.25, "lo": 0.1, "hi": 0.4}
    for row in record["metrics"]["per_seed"]:
        row["direction"] = -1 if flip else 1
    store.write(store.run_path(tmp_path, method, model), record)


def test_the_leaderboard_section_shows_each_record_and_each_gap(tmp_path: Path) -> None:
    from bench.report.membership import GAP, membership_section

    assert membership_section(tmp_path) == []
    leaderboard_record(tmp_path, "sima", "celeba-64-cpu", flip=False)
    leaderboard_record(tmp_path, "pia", "celeba-128-cpu", flip=True)
    lines = "\n".join(membership_section(tmp_path)).splitlines()
    row = {line.split("|")[1].strip(): line for line in lines if line.startswith("| celeba")}
    sima = method_names().index("sima") + 3  # | model | px | methods…
    assert row["celeba-64-cpu"].split("|")[sima].strip() == "0.812 [0.700–0.900] · 0.25 [0.10–0.40]"
    assert row["celeba-64-cpu"].count(GAP) == len(method_names()) - 1
    assert "↓" in row["celeba-128-cpu"]
    assert row["celeba-128-cpu32"].count(GAP) == len(method_names())


def test_the_committed_leaderboard_holds_the_membership_section() -> None:
    from bench.report.membership import membership_section

    section = "\n".join(membership_section(REPORTS))
    assert section.strip() and section in (REPORTS / "leaderboard.md").read_text()


def test_bad_input_is_one_line_and_exit_2(capsys) -> None:
    assert main(["mia", "run", "--method", "bogus", "--model", "celeba-64-cpu"]) == 2
    assert "unknown membership method 'bogus'" in capsys.readouterr().err
    args = ["mia", "run", "--method", "sima", "--model", "celeba-64-cpu", "--set", "t=ten"]
    assert main(args) == 2
    assert "t takes a value like" in capsys.readouterr().err


def test_the_docs_example_method_plugs_in(tmp_path: Path, monkeypatch) -> None:
    text = (REPO_ROOT / "docs" / "membership.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    card = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "membership").mkdir()
    (tmp_path / "x0_error.py").write_text(code)
    (tmp_path / "membership" / "x0-error.toml").write_text(card)
    monkeypatch.setenv("BENCH_CARDS", str(tmp_path))
    mcard = method_card("x0-error")
    method = build_method(mcard, mcard.params())
    g = torch.Generator().manual_seed(5)
    members = torch.rand(30, 3, 8, 8, generator=g) * 2 - 1
    unseen = torch.rand(100, 3, 8, 8, generator=g) * 2 - 1
    queries = Queries(Memoriser(members))
    assert auc(scores(method, queries, members), scores(method, queries, unseen)) > 0.95


def test_membership_defaults_follow_the_suites_one_selection_rule() -> None:
    """The extraction sweeps' rule, on held-out AUC: hand-computed on PIA's committed rows, where
    the highest mean (t = 10) loses to a smaller lead with less seed spread (t = 500)."""
    from bench.membership.tuning import choose

    rows = [
        {"value": 10, "auc": [0.6075, 0.6485, 0.6254]},
        {"value": 200, "auc": [0.5355, 0.5148, 0.5284]},
        {"value": 500, "auc": [0.6201, 0.5912, 0.6260]},
    ]
    # t = 10 against 200: differences 0.072, 0.1337, 0.097 (mean 0.1009, SE 0.0179, t 5.63 on
    # 2 df, one-sided p 0.015); t = 500: 0.0846, 0.0764, 0.0976 (mean 0.0862, SE 0.0062, t 13.9,
    # p 0.0026). Against two challengers the level is 0.025: both beat the card, and the higher
    # mean (t = 10) wins. The committed sweep compared five, at 0.01, where t = 10 drops out.
    value, why = choose(rows, 200)
    assert value == 10 and "p 0.015 against a level of 0.025" in why
    value, why = choose(rows[1:], 200)
    assert value == 500 and "one-sided p 0.003 against a level of 0.05" in why
    # A lead inside seed noise keeps the card's value (loss's t = 200 against its card's 100).
    loss = [
        {"value": [100], "auc": [0.9784, 0.9741, 0.9838]},
        {"value": [200], "auc": [0.9824, 0.9821, 0.9852]},
    ]
    value, why = choose(loss, [100])
    assert value == [100] and "not beaten" in why and "p 0.073" in why


def test_every_committed_membership_record_is_of_its_cards_current_version() -> None:
    old = [
        f"{r['method']} on {r['model']}"
        for r in store.all_runs(REPO_ROOT / "reports")
        if store.stale(r)
    ]
    assert not old, f"records of an earlier card version: {old}"


def test_rejudge_applies_the_rule_to_committed_rows_and_keeps_the_first_pick(
    tmp_path: Path,
) -> None:
    committed = store.read_json(store.tuning_path(REPORTS, "pia"))
    earlier = {**committed, "chosen": 10, "why": "an earlier rule's pick"}
    earlier.pop("first_pick", None)
    store.write(store.tuning_path(tmp_path, "pia"), earlier)
    assert main(["mia", "tune", "--method", "pia", "--rejudge", "--out", str(tmp_path)]) == 0
    again = store.read_json(store.tuning_path(tmp_path, "pia"))
    assert again["chosen"] == 500 and again["rows"] == committed["rows"]
    assert again["first_pick"] == {"chosen": 10, "why": "an earlier rule's pick"}
    assert main(["mia", "tune", "--method", "loss", "--rejudge", "--out", str(tmp_path)]) == 2
    store.write(store.tuning_path(tmp_path, "pia"), {**earlier, "rows": [{"value": 10}]})
    with pytest.raises(BenchError, match=r"rows\.0\.auc is missing; re-run `bench mia tune`"):
        store.read_tuning(store.tuning_path(tmp_path, "pia"))
