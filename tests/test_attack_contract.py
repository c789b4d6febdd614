"""The attack contract (``bench check-attack``), on every shipped card and on planted broken ones.

An attack is two files and no edit to the suite, so the contract is a public check any card can
run, the repository's or a user's under ``BENCH_CARDS``, with the fast settings the card itself
declares (its ``test`` profile); nothing here names an attack's parameters. The README's example
attack runs it from outside the clone (``tests/test_readme.py``). A check that passed a broken
attack would hold nothing, so each planted break below must be reported as the clause it breaks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.runner.contract import check_attack
from bench.utils.paths import REPO_ROOT

SHIPPED = sorted(p.stem for p in (REPO_ROOT / "attacks").glob("*.toml"))

CARD = """name = "{name}"
version = 1
implementation = "{module}:Planted"
paper = "none: a planted broken attack"
threat_model = "white-box"
applies_to = ["unconditional"]

[params.steps]
cpu = 4
test = 2
source = "suite's choice"
"""

# A plain sampler that the breaks below change in one place each.
CLASS = """from dataclasses import replace

import numpy as np

from bench.attacks.base import Attack, AttackResult
from bench.attacks.generation import generate_outputs


class Planted(Attack):
    threat_model = "white-box"

    def __init__(self, steps{default}) -> None:
        self.steps = steps

    def run(self, view, budget, seed):
        fewer = replace(view, sampling_steps=self.steps)
        seed = {seed}
        unet, _ = generate_outputs(fewer, {n}, seed, progress=False)
        return AttackResult(n_outputs=budget, unet_evaluations=unet)
"""

PLAIN = {"default": "", "seed": "seed", "n": "budget"}
BREAKS = {
    "one output short": ({"n": "budget - 1"}, "it writes exactly 16 uint8 outputs"),
    "an unseeded draw": (
        {"seed": "int(np.random.default_rng().integers(2**31))"},
        "the same seed gives the same run",
    ),
    "a keyword default": ({"default": "=3"}, "the class takes exactly the card's parameters"),
    "a budget-dependent seed": ({"seed": "seed + budget"}, "its first outputs are a smaller run"),
}


def plant(folder: Path, name: str, **change: str) -> None:
    """An attack card and its module in a card folder of the user's (``BENCH_CARDS``)."""
    module = name.replace("-", "_")
    (folder / "attacks").mkdir(parents=True, exist_ok=True)
    (folder / "attacks" / f"{name}.toml").write_text(CARD.format(name=name, module=module))
    (folder / f"{module}.py").write_text(CLASS.format(**{**PLAIN, **change}))


@pytest.fixture
def user_cards(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my-cards"
    monkeypatch.setenv("BENCH_CARDS", str(folder))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_attack_keeps_the_contract(name: str) -> None:
    broken = [c for c in check_attack(name) if c.failure]
    assert not broken, broken


def test_a_plain_user_attack_keeps_the_contract(
    user_cards: Path, capsys: pytest.CaptureFixture
) -> None:
    plant(user_cards, "planted-plain")
    assert main(["check-attack", "planted-plain"]) == 0
    assert capsys.readouterr().out.endswith("planted-plain: contract kept\n")


@pytest.mark.parametrize("why", BREAKS)
def test_a_broken_attack_fails_the_clause_it_breaks(
    user_cards: Path, capsys: pytest.CaptureFixture, why: str
) -> None:
    change, clause = BREAKS[why]
    name = "planted-" + why.replace(" ", "-")
    plant(user_cards, name, **change)
    assert main(["check-attack", name]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any(line.startswith(f"FAIL {clause}") for line in failed), out
    assert "clauses broken" in out.splitlines()[-1]


def test_a_card_without_a_test_profile_is_one_line(user_cards: Path) -> None:
    plant(user_cards, "planted-untested")
    card = user_cards / "attacks" / "planted-untested.toml"
    card.write_text(card.read_text().replace("test = 2\n", ""))
    with pytest.raises(BenchError, match="declares no 'test' profile"):
        check_attack("planted-untested")
