"""The zoo: real training steps, exact resume after a kill, release, digests and card checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench.cards import model_card, model_cards
from bench.cli import main
from bench.data.subset import members
from bench.errors import BenchError
from bench.utils.digest import sha256
from bench.utils.paths import REPO_ROOT, data_root
from bench.zoo.build import build_unet
from bench.zoo.checkpoint import load_tensors
from bench.zoo.load import load_denoiser, verified_digest
from bench.zoo.manage import train_card, zoo_rows
from bench.zoo.train import Trainer, state_path, train


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {
        f"{k}.{n}": v.clone() for k, m in trainer.ema.items() for n, v in m.state_dict().items()
    }


def test_training_reduces_loss(world: Path) -> None:
    card = model_card("tiny-8")
    trainer = Trainer(card, members(card, data_root()))
    losses = [trainer.train_step() for _ in range(60)]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10


def test_resume_equals_uninterrupted(world: Path) -> None:
    card = model_card("tiny-8")
    data = members(card, data_root())
    trainer, _ = train(card, data, max_steps=5, checkpoint_every=3, progress=False)
    trainer, result = train(card, data, progress=False)  # resumes from step 5
    resumed = _weights(trainer)
    state_path(card).unlink()
    straight, result2 = train(card, data, progress=False)
    assert result.steps == result2.steps == 8
    for k, v in _weights(straight).items():
        assert torch.equal(v, resumed[k]), k


def test_a_release_depends_on_the_weights_not_the_clock(world: Path, tmp_path: Path) -> None:
    """A deterministic retrain gives the same weights; it must give the same digest too, or every
    record of the model goes stale for nothing."""
    from bench.zoo.checkpoint import save_tensors

    card = model_card("tiny-8")
    trainer, _ = train(card, members(card, data_root()), max_steps=2, progress=False)
    digests = []
    for seconds in (1.0, 1000.0):
        trainer.seconds = seconds
        save_tensors(tmp_path / f"{seconds}.safetensors", *trainer.release())
        digests.append(sha256(tmp_path / f"{seconds}.safetensors"))
    assert digests[0] == digests[1]


def test_resume_after_sigkill(world: Path) -> None:
    card = model_card("tiny-24")
    text = card.path.read_text().replace("images_seen = 64", "images_seen = 16000")
    card.path.write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same numerics as this process (1 thread)
    cmd = [sys.executable, "-m", "bench", "zoo", "train", "tiny-24", "--checkpoint-every", "20"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = state_path(model_card("tiny-24"))
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, meta = load_tensors(path, model_card("tiny-24"))
    assert 0 < meta["step"] < 2000, "the kill must land mid-run"
    card = model_card("tiny-24")
    data = members(card, data_root())
    resumed, _ = train(card, data, max_steps=meta["step"] + 10, progress=False)
    assert resumed.step == meta["step"] + 10
    path.unlink()
    straight, _ = train(card, data, max_steps=meta["step"] + 10, progress=False)
    for k, v in _weights(straight).items():
        assert torch.equal(v, _weights(resumed)[k]), k


def test_train_release_measure_and_list(world: Path) -> None:
    out = train_card(model_card("tiny-8"), None, progress=False)
    assert out["status"] == "trained" and out["images_seen"] == 64
    card = model_card("tiny-8")
    assert card.trained["checkpoint_sha256"] == sha256(card.checkpoint_path)
    assert 0.0 <= card.trained["memorised_fraction"] <= 1.0
    assert "[architecture]" in card.path.read_text()  # hand-written part kept
    den = load_denoiser(card)
    assert den.unet.dtype == torch.float32 and not den.conditional
    row = {r["name"]: r for r in zoo_rows()}["tiny-8"]
    assert row["status"] == "trained" and row["images_seen"] == 64
    assert {r["name"]: r for r in zoo_rows()}["tiny-24"]["status"] == "missing"


def test_caption_model_trains_and_loads(world: Path) -> None:
    train_card(model_card("tiny-8-caption"), None, progress=False)
    den = load_denoiser(model_card("tiny-8-caption"))
    assert den.conditional
    x = torch.zeros(2, 3, 8, 8)
    out = den(x, torch.tensor([5, 5]), ["a smiling young woman", "an older man"])
    assert out.shape == x.shape


def test_checkpoint_of_another_card_is_refused(world: Path) -> None:
    train_card(model_card("tiny-8"), None, progress=False)
    src = model_card("tiny-8").checkpoint_path
    dst = model_card("tiny-24").checkpoint_path
    dst.write_bytes(src.read_bytes())
    with pytest.raises(BenchError, match="belongs to card 'tiny-8'"):
        load_tensors(dst, model_card("tiny-24"))
    with pytest.raises(BenchError, match="has no checkpoint.*zoo train tiny-24"):
        verified_digest(model_card("tiny-24"))
    card = model_card("tiny-8")
    src.write_bytes(src.read_bytes() + b" ")
    with pytest.raises(BenchError, match="belongs to another card or was altered"):
        verified_digest(card)


def test_committed_checkpoints_match_their_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    trained = [c for c in model_cards() if c.trained.get("checkpoint_sha256")]
    assert trained, "the repository must ship trained cpu-profile checkpoints"
    for card in trained:
        assert card.checkpoint_path.parent == REPO_ROOT / "models" / "checkpoints"
        assert sha256(card.checkpoint_path) == card.trained["checkpoint_sha256"], card.name
        den = load_denoiser(card)
        with torch.no_grad():
            x = torch.zeros(1, 3, card.resolution, card.resolution, device=den.device)
            caps = ["a smiling young woman"] if den.conditional else None
            assert torch.isfinite(den(x, torch.tensor([10]), caps)).all()


CHECKPOINT_LIMIT = 16 * 2**20  # bytes: a GPU lease brings back files up to 16 MiB


def test_every_card_builds_and_its_release_fits_the_artefact_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every committed card must build, and its fp16 release must stay small enough to commit and
    to bring back from a GPU lease: this catches an oversized architecture before any training."""
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    for card in model_cards():
        n_params = sum(p.numel() for p in build_unet(card).parameters())
        assert 2 * n_params < CHECKPOINT_LIMIT, f"{card.name}: {n_params} parameters"


def _edit_card(name: str, old: str, new: str) -> None:
    path = model_card(name).path
    path.write_text(path.read_text().replace(old, new, 1))


def test_every_architecture_key_reaches_the_unet(world: Path) -> None:
    _edit_card("tiny-8", "norm_num_groups = 4\n", 'norm_num_groups = 4\nact_fn = "mish"\n')
    assert build_unet(model_card("tiny-8")).config.act_fn == "mish"


def test_a_key_diffusers_does_not_take_is_refused(world: Path) -> None:
    _edit_card("tiny-8", "norm_num_groups = 4\n", "norm_num_groups = 4\nactivation = 1\n")
    with pytest.raises(BenchError, match=r"\[architecture\] key\(s\) activation are not UNet2D"):
        build_unet(model_card("tiny-8"))


def test_a_card_edited_after_training_no_longer_loads(world: Path) -> None:
    train_card(model_card("tiny-8"), None, progress=False)
    _edit_card("tiny-8", "norm_num_groups = 4\n", 'norm_num_groups = 4\nact_fn = "mish"\n')
    with pytest.raises(BenchError, match="architecture.act_fn changed since training"):
        load_denoiser(model_card("tiny-8"))


def test_the_cards_sampler_is_honoured(world: Path) -> None:
    from diffusers import DDPMScheduler, EulerDiscreteScheduler

    from bench.zoo.build import build_sampler

    _edit_card("tiny-8", "sampling_steps = 4", 'sampler = "ddpm"\nsampling_steps = 4')
    assert isinstance(build_sampler(model_card("tiny-8")), DDPMScheduler)
    _edit_card("tiny-8", 'sampler = "ddpm"', 'sampler = "EulerDiscreteScheduler"')
    assert isinstance(build_sampler(model_card("tiny-8")), EulerDiscreteScheduler)
    _edit_card("tiny-8", 'sampler = "EulerDiscreteScheduler"', 'sampler = "NoSuchScheduler"')
    with pytest.raises(BenchError, match="sampler 'NoSuchScheduler' is neither"):
        build_sampler(model_card("tiny-8"))


def test_sampling_runs_under_a_sampler_that_scales_its_inputs(world: Path) -> None:
    """Euler scales x by init_noise_sigma and the model input by scale_model_input."""
    from bench.zoo.build import build_sampler
    from bench.zoo.sampling import batch_generator, sample_batch

    train_card(model_card("tiny-8"), None, progress=False)
    _edit_card(
        "tiny-8", "sampling_steps = 4", 'sampler = "EulerDiscreteScheduler"\nsampling_steps = 4'
    )
    card = model_card("tiny-8")
    x = sample_batch(load_denoiser(card), build_sampler(card), 2, 8, 4, batch_generator(0, 0))
    assert x.shape == (2, 3, 8, 8) and torch.isfinite(x).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": 10**12, "images_seen": 10**12 * 8}, "claims step 1,000,000,000,000"),
        ({"step": 3, "images_seen": 5}, "claims step 3 and 5 images seen"),
        ({"train_seconds": -1000}, "train_seconds is -1000: input should be greater than"),
        ({"train_seconds": None}, "train_seconds is None"),
        ({"step": "3"}, "step is '3': input should be a valid integer"),
    ],
)
def test_a_tampered_training_state_never_reaches_the_card(
    world: Path, capsys: pytest.CaptureFixture, change: dict, message: str
) -> None:
    """A training state of 10**12 steps was resumed and its step count written into the card."""
    from bench.zoo.checkpoint import save_tensors

    card = model_card("tiny-8")
    data = members(card, data_root())
    train(card, data, max_steps=3, progress=False)
    path = state_path(card)
    tensors, meta = load_tensors(path, card)
    save_tensors(path, tensors, {**meta, **change})
    card_text = card.path.read_text()
    assert main(["zoo", "train", "tiny-8"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and str(path) in err[0] and message in err[0], err
    assert card.path.read_text() == card_text
