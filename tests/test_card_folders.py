"""Card folders outside the repository (``BENCH_CARDS``), and the threat model enforced in one
place (``grants_captions``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.attacks.base import grants_captions, load_attack
from bench.cards import attack_card, attack_names
from bench.cli import main
from bench.errors import BenchError


def extension(root: Path, name: str, threat_model: str = "white-box") -> Path:
    """A card folder holding one attack card, a copy of carlini's under another name."""
    text = (Path(os.environ["BENCH_CARDS_BASE"]) / "attacks" / "carlini.toml").read_text()
    text = text.replace('name = "carlini"', f'name = "{name}"')
    text = text.replace('threat_model = "white-box"', f'threat_model = "{threat_model}"')
    (root / "attacks").mkdir(parents=True)
    (root / "attacks" / f"{name}.toml").write_text(text)
    return root


def test_bench_cards_is_a_path_list_added_to_the_base(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = extension(tmp_path / "one", "mine"), extension(tmp_path / "two", "theirs")
    monkeypatch.setenv("BENCH_CARDS", os.pathsep.join([str(one), "", str(two)]))
    assert {"carlini", "side", "mine", "theirs"} <= set(attack_names())
    assert attack_card("theirs").path == two / "attacks" / "theirs.toml"


def test_a_name_defined_in_two_folders_names_both_files(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    clash = extension(tmp_path / "ext", "carlini")
    monkeypatch.setenv("BENCH_CARDS", str(clash))
    with pytest.raises(BenchError) as err:
        attack_card("carlini")
    assert str(world / "attacks" / "carlini.toml") in str(err.value)
    assert str(clash / "attacks" / "carlini.toml") in str(err.value)
    home = Path(os.environ["BENCH_HOME"])
    before = sorted(p for p in home.rglob("*") if p.is_file())
    assert main(["run", "--attack", "side", "--scale", "8"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "two attacks cards are named 'carlini'" in lines[0]
    assert sorted(p for p in home.rglob("*") if p.is_file()) == before


def test_captions_are_granted_only_under_their_threat_model(world: Path) -> None:
    for name, granted in (("carlini", False), ("side", False), ("text-conditional", True)):
        card = attack_card(name)
        assert grants_captions(card, load_attack(card, card.params("cpu"))) is granted


@pytest.mark.parametrize(
    "threat, message",
    [
        ("white-box+captions", "grants 'white-box+captions' but bench.attacks.carlini:Carlini"),
        ("black-box", "unknown threat model 'black-box'"),
    ],
)
def test_the_card_threat_model_is_checked_against_the_implementation(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    threat: str,
    message: str,
) -> None:
    monkeypatch.setenv(
        "BENCH_CARDS", str(extension(tmp_path / "ext", "greedy", threat_model=threat))
    )
    assert main(["run", "--attack", "greedy", "--scale", "8", "--budget", "8"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not list(Path(os.environ["BENCH_HOME"]).glob("results/runs/greedy/**/*.json"))
