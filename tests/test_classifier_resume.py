"""SIDE's classifier training resumes where it stopped (issue 37 §3).

Each interrupt of a long SIDE run used to restart the classifier from step 0. The training now
saves its weights, AdamW moments and batch generator every few steps; these tests interrupt it
through its ``after_step`` hook (a real exception raised mid-training, nothing mocked) and require
the resumed training to end with exactly the weights of an uninterrupted one, and a damaged state
to be removed with one notice and the training rebuilt from step 0, never resumed from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from bench.attacks.classifier import train_classifier
from bench.attacks.resumable import StateFile

STEPS = 9
EVERY = 2


class Interrupt(Exception):
    """Stands for Ctrl-C or a killed process: the training stops between two steps."""


def inputs() -> tuple[torch.Tensor, np.ndarray]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand((24, 3, 8, 8), generator=g) * 2 - 1
    return images, np.arange(24) % 3


def train(
    state: StateFile | None,
    stop_at: int | None = None,
    ran: list[int] | None = None,
    flip_labels: bool = False,
) -> dict[str, torch.Tensor]:
    """The trained weights and stats; ``stop_at`` interrupts after that step, ``ran`` collects
    the steps run, ``flip_labels`` trains on other inputs."""

    def after_step(step: int) -> None:
        if ran is not None:
            ran.append(step)
        if step == stop_at:
            raise Interrupt(step)

    images, labels = inputs()
    clf, stats = train_classifier(
        images,
        labels[::-1].copy() if flip_labels else labels,
        3,
        DDPMScheduler(num_train_timesteps=100),
        time_dependent=True,
        steps=STEPS,
        batch=4,
        lr=1e-3,
        width=8,
        stem=1,
        seed=5,
        state=state,
        checkpoint_every=EVERY,
        after_step=after_step,
    )
    return clf.state_dict() | {"stats": torch.tensor(list(stats.values()))}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True)
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DEVICE", "cpu")


@pytest.fixture
def state(tmp_path: Path) -> StateFile:
    return StateFile(tmp_path / "prep" / "classifier-x.state.safetensors", "training state")


@pytest.mark.parametrize("stop_at", [1, 4, 5, 8])
def test_an_interrupted_training_resumes_to_the_same_weights(
    state: StateFile, stop_at: int
) -> None:
    whole = train(None)
    with pytest.raises(Interrupt):
        train(state, stop_at)
    saved = stop_at - stop_at % EVERY
    assert state.path.is_file() == (saved > 0)
    ran: list[int] = []
    assert same(train(state, ran=ran), whole)
    assert ran == list(range(saved + 1, STEPS + 1))


def test_the_resume_starts_from_the_saved_step(state: StateFile) -> None:
    """Resumed from step 4, the training runs steps 5 to 9 only (it is not restarted)."""
    with pytest.raises(Interrupt):
        train(state, 5)
    ran: list[int] = []
    train(state, ran=ran)
    assert ran == [5, 6, 7, 8, 9]


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _tamper_step(path: Path) -> None:
    data = path.read_bytes()
    edited = data.replace(b'\\"step\\":4', b'\\"step\\":6', 1)
    assert edited != data
    path.write_bytes(edited)


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "a tensor's bytes changed": _flip_last_byte,
    "its step tampered": _tamper_step,
    "not safetensors": lambda p: p.write_text("{}"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_is_rebuilt_never_resumed(
    state: StateFile, damage: str, capsys: pytest.CaptureFixture
) -> None:
    whole = train(None)
    with pytest.raises(Interrupt):
        train(state, 5)
    DAMAGE[damage](state.path)
    assert same(train(state), whole)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "training state" in notes[0] and "removed" in notes[0], notes


def test_a_state_of_other_inputs_is_not_resumed(state: StateFile) -> None:
    with pytest.raises(Interrupt):
        train(state, 5)
    ran: list[int] = []
    assert same(train(state, ran=ran, flip_labels=True), train(None, flip_labels=True))
    assert ran[0] == 1
