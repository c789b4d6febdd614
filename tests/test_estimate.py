"""The estimate a run makes before its slow work counts what the run then evaluates (issue 37 §2).

`bench run --attack side --scale 5k` once announced its outputs' 25,600 UNet evaluations and left
out the 409,600 of its synthetic set. Here every shipped attack runs its card's ``test`` profile on
a tiny trained model, and the evaluations the estimate counted before the run, phase by phase,
must equal what the run then evaluated, counted as it happened by torch forward hooks on every
UNet and classifier (a classifier forward in training mode is a training image, one under
``enable_grad`` a guidance gradient, one under ``no_grad`` a plain evaluation). A rerun, and
side-ti after SIDE at the same seed, check that what is on disk (shards, pool batches, a cached
classifier) is taken off the estimate exactly as the run skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel, UNet2DModel

from bench.attacks.base import load_attack
from bench.attacks.classifier import NoisyClassifier
from bench.attacks.work import KIND_WORDS, KINDS, Phase, Work
from bench.cards import attack_card, validate
from bench.cli import main
from bench.runner.cell import open_cell, plan_cell, score_cell
from bench.runner.spec import CellSpec, RunOptions, ZooModel
from bench.utils.locks import release
from bench.utils.paths import REPO_ROOT

SHIPPED = sorted(p.stem for p in (REPO_ROOT / "attacks").glob("*.toml"))
BUDGET = 16
MODELS = {"text-conditional": "tiny-8-caption"}  # the rest attack the unconditional tiny-8
TINY_STEPS = 4  # the tiny models' sampling steps (conftest)


@contextmanager
def evaluations() -> Iterator[dict[str, int]]:
    """Images through every UNet and classifier forward while the block runs, by kind."""
    counted = dict.fromkeys(KINDS, 0)

    def hook(module: torch.nn.Module, _args: tuple, output: object) -> None:
        if isinstance(module, UNet2DModel | UNet2DConditionModel):
            counted["unet"] += len(output.sample if hasattr(output, "sample") else output[0])
        elif isinstance(module, NoisyClassifier):
            if module.training:
                kind = "classifier_train"
            else:
                kind = "classifier_grad" if torch.is_grad_enabled() else "classifier_forward"
            counted[kind] += len(output)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield counted
    finally:
        handle.remove()


def counted_run(attack: str, seed: int = 0, **changed: object) -> tuple[Work, dict[str, int], int]:
    """The run's work as counted before it, what it evaluated, and what scoring compared; the
    card's ``test`` profile with ``changed`` parameters."""
    card = attack_card(attack)
    params = validate.attack_params(card, "test") | changed
    model, profile = MODELS.get(attack, "tiny-8"), "cpu"
    if "cpu" not in card.defaults:  # side-paper runs in cpu64 only: a tiny model of that profile
        model, profile = cpu64_model(), "cpu64"
    spec = CellSpec(attack, ZooModel(model), profile, seed, BUDGET, params)
    options = RunOptions(write=False, progress=False)
    plan = plan_cell(spec, options)
    cell = open_cell(plan, options, None)
    with evaluations() as counted:
        result = plan.attack.run(cell.view, plan.budget, plan.seed)
        record = score_cell(plan, cell, result, progress=False)
    release(cell.lock)
    audited = 0 if result.audit is None else len(result.audit.images)
    members, nonmembers = len(cell.member_set.images), len(cell.nonmember_set.images)
    assert record["metrics"]["n_outputs"] == BUDGET
    return cell.work, counted, BUDGET * (members + nonmembers) + audited * members


def cpu64_model() -> str:
    """tiny-8 again, as a cpu64 card (trained in seconds), for an attack without a cpu profile."""
    from bench.cards import model_card
    from bench.cards.schema import dataset_card
    from bench.zoo.manage import train_card
    from tests.conftest import model_card_text

    cards = dataset_card("celeba").path.parents[1]
    path = cards / "models" / "tiny-8-cpu64.toml"
    if not path.is_file():
        dataset = cards / "datasets" / "celeba.toml"
        dataset.write_text(dataset.read_text().replace("cpu = 16\n", "cpu = 16\ncpu64 = 16\n"))
        path.write_text(
            model_card_text("tiny-8-cpu64", "8").replace('profile = "cpu"', 'profile = "cpu64"')
        )
        train_card(model_card("tiny-8-cpu64"), None, progress=False)
    return "tiny-8-cpu64"


def declared(work: Work) -> dict[str, int]:
    return {k: n for k, n in work.total().items() if k != "distances"}


def ran(counted: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in counted.items() if k != "distances"}


@pytest.mark.parametrize("attack", SHIPPED)
def test_the_estimate_counts_what_the_run_evaluates(trained: Path, attack: str) -> None:
    work, counted, compared = counted_run(attack)
    assert declared(work) == ran(counted), [(p.name, p.counts()) for p in work.phases]
    assert counted["unet"] > 0
    assert work.total()["distances"] == compared


def test_unet_features_are_counted(trained: Path) -> None:
    """SIDE in the UNet's own feature space runs the UNet once more per embedded image."""
    work, counted, _ = counted_run("side", features="unet-mid")
    assert declared(work) == ran(counted)
    assert "UNet features" in [p.name for p in work.phases]


def test_a_rerun_counts_only_what_is_not_kept(trained: Path) -> None:
    """Every output shard, pool batch and the classifier are on disk: the rerun evaluates only the
    held-out accuracy (on pooled images) and scores again."""
    counted_run("side")
    work, counted, compared = counted_run("side")
    assert declared(work) == ran(counted)
    assert counted["unet"] == counted["classifier_train"] == counted["classifier_grad"] == 0
    busy = [p.name for p in work.phases if any(p.counts().values())]
    assert busy == ["held-out check", "scoring"]
    assert work.total()["distances"] == compared


def test_a_synthetic_set_in_steps_of_its_own_is_counted_and_pooled_apart(trained: Path) -> None:
    """``syn_steps``: the synthetic set and the held-out check are drawn in that many steps and
    counted so; a rerun finds them in their own pool setting and evaluates only the held-out
    accuracy again, while a run at the outputs' steps finds nothing of theirs pooled."""
    work, counted, _ = counted_run("side", syn_steps=1)
    assert declared(work) == ran(counted)
    phases = {p.name: p.counts() for p in work.phases}
    assert phases["synthetic set"]["unet"] == attack_card("side").params("test")["n_syn"]
    work, counted, _ = counted_run("side", syn_steps=1)
    assert declared(work) == ran(counted) and counted["unet"] == 0
    work, counted, _ = counted_run("side")
    assert declared(work) == ran(counted)
    assert {p.name: p.counts() for p in work.phases}["synthetic set"]["unet"] > 0


def test_side_ti_after_side_counts_what_the_pool_and_cache_do_not_hold(trained: Path) -> None:
    """The same seed's synthetic set and held-out check are in the sample pool after SIDE, so
    side-ti samples neither; it still trains its own (time-independent) classifier."""
    counted_run("side")
    work, counted, _ = counted_run("side-ti")
    assert declared(work) == ran(counted)
    left = {p.name: p.counts() for p in work.phases}
    assert left["synthetic set"]["unet"] == left["held-out check"]["unet"] == 0
    assert left["classifier training"]["classifier_train"] > 0
    assert left["guided sampling"]["unet"] == left["guided sampling"]["classifier_grad"] > 0


@pytest.mark.parametrize("attack", ["side", "text-conditional"])
def test_a_long_run_announces_every_phase_priced(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, attack: str
) -> None:
    """Every phase the attack declares, and scoring, each with its count and time; every kind of
    evaluation is priced (a caption model's UNet with its captions)."""
    from bench.runner import preflight

    monkeypatch.setattr(preflight, "TIMED_FROM", 0)
    monkeypatch.setattr(preflight, "LONG_RUN_SECONDS", 0.0)
    params = validate.attack_params(attack_card(attack), "test")
    model = MODELS.get(attack, "tiny-8")
    argv = ["run", "--attack", attack, "--model", model, "--budget", str(BUDGET), "--json"]
    for name, value in params.items():
        argv += ["--set", f"{name}={value}"]
    assert main(argv) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1, notes
    work = load_attack(attack_card(attack), params).work(BUDGET, 0, TINY_STEPS)
    names = [p.name for p in work.phases] + ["scoring"]
    assert notes[0].startswith(f"note: this run has {len(names)} phase(s) of work left, about ")
    listed = notes[0].split(" in all (", 1)[1].split("; each kind of evaluation timed", 1)[0]
    assert [part.split(":")[0] for part in listed.split("; ")] == names
    kinds = {k for k, n in work.with_phase(Phase("scoring", distances=1)).total().items() if n}
    prices = notes[0].split("timed just now on this machine, ", 1)[1].split("), and writes")[0]
    assert sorted(part.rsplit(" ", 2)[0] for part in prices.split(", ")) == sorted(
        KIND_WORDS[k] for k in kinds
    )


def test_scoring_counts_the_sscd_descriptors_it_has_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repository's dataset card scores SSCD at 64 px, not at 16: at 64 px each output's
    descriptor is made, and each reference set's until its descriptors are cached."""
    from bench.cards import dataset_card
    from bench.metrics.sscd_bands import calibrated_entry, descriptor_path
    from bench.runner.estimate import scoring

    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    metrics = dataset_card("celeba").metrics
    references = ((5_000, "members-key"), (1_000, "nonmembers-key"))
    assert scoring(512, 0, references, metrics, 16).sscd == 0
    assert scoring(512, 0, references, metrics, 64).sscd == 512 + 5_000 + 1_000
    cached = descriptor_path(calibrated_entry(metrics, "sscd", 64).model_sha256, "members-key")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    phase = scoring(512, 8, references, metrics, 64)
    assert phase.sscd == 512 + 1_000
    assert phase.distances == 512 * 6_000 + 8 * 5_000


def test_a_saved_training_state_shortens_its_phase(tmp_path: Path) -> None:
    """After an interrupt, the estimate counts the classifier steps the resume will run: those
    after the saved step (``test_classifier_resume`` checks that the resume runs exactly those),
    and all of them again once the state is damaged (it will be rebuilt)."""
    from bench.attacks.resumable import StateFile, state_path
    from bench.runner.estimate import remaining
    from tests.test_classifier_resume import STEPS, Interrupt, train

    state = StateFile(state_path(tmp_path, "classifier-x"), "training state")
    with pytest.raises(Interrupt):
        train(state, 5)  # saved after step 4 (every 2), batch 4
    phase = Phase("training", classifier_train=STEPS * 4, cached="classifier-x", steps=STEPS)
    left = remaining(Work((phase,)), BUDGET, BUDGET, None, tmp_path).phases[0]
    assert left.classifier_train == (STEPS - 4) * 4
    state.path.write_bytes(b"damaged")
    left = remaining(Work((phase,)), BUDGET, BUDGET, None, tmp_path).phases[0]
    assert left.classifier_train == STEPS * 4
