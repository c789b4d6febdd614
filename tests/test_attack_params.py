"""Each attack parameter declared once: in its card's ``[params.<name>]`` table, nowhere else.

The class's constructor names the parameters and gives none a default; the card gives each one
its value in every profile, its bounds, alias and one line of source. A keyword default in a
class, a profile a parameter leaves out, or a parameter only one side knows is refused before
any work, so no run can take a value the card does not show (issue 35: four of SIDE's defaults
had drifted from its card).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.attacks.base import checked_class, load_attack
from bench.cards import attack_card
from bench.errors import BenchError
from bench.utils.paths import REPO_ROOT

SHIPPED = sorted(p.stem for p in (REPO_ROOT / "attacks").glob("*.toml"))

CARD = """name = "{name}"
version = 1
implementation = "{module}:Planted"
paper = "none: a planted attack"
threat_model = "white-box"

[params.steps]
cpu = 10
test = 2
source = "suite's choice"
"""

CLASS = """from bench.attacks.base import Attack


class Planted(Attack):
    def __init__(self, {signature}) -> None:
        self.steps = steps

    def run(self, view, budget, seed):
        raise NotImplementedError
"""


def plant(world: Path, name: str, signature: str = "steps: int", card: str = CARD) -> None:
    """An attack card and its module in the world's card folder (the module beside the folder's
    ``attacks/``, as a user's ``BENCH_CARDS`` folder keeps it)."""
    module = name.replace("-", "_")
    (world / "attacks" / f"{name}.toml").write_text(card.format(name=name, module=module))
    (world / f"{module}.py").write_text(CLASS.format(signature=signature))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_class_takes_exactly_its_cards_parameters_without_defaults(
    name: str,
) -> None:
    card = attack_card(name)
    checked_class(card)
    for profile in card.defaults:
        assert set(card.params(profile)) == set(card.declared), profile
        load_attack(card, card.params(profile))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_source_is_one_line_and_cites_files_that_exist(name: str) -> None:
    for param, source in attack_card(name).sources.items():
        assert "\n" not in source and len(source) <= 240, (name, param, len(source))
        cited = re.findall(r"(?:reports|docs)/[\w./-]+\.md", source)
        assert cited, f"{name}.{param}: its source cites no sweep report or tuning note"
        assert all((REPO_ROOT / path).is_file() for path in cited), (name, param, cited)


def test_a_class_that_gains_a_keyword_default_is_refused(world: Path) -> None:
    plant(world, "defaulted", signature="steps: int = 4")
    with pytest.raises(BenchError, match="gives steps a default; an attack's parameters take"):
        load_attack(attack_card("defaulted"), {"steps": 10})


def test_a_parameter_only_the_class_takes_is_refused(world: Path) -> None:
    plant(world, "undeclared", signature="steps: int, width: int")
    with pytest.raises(
        BenchError, match="declares steps but undeclared:Planted takes steps, width"
    ):
        load_attack(attack_card("undeclared"), {"steps": 10})


def test_a_card_that_omits_a_profile_value_is_refused_at_load(world: Path) -> None:
    card = CARD.replace("[params.steps]", '[params.width]\ncpu = 3\nsource = "x"\n\n[params.steps]')
    plant(world, "gappy", card=card)
    with pytest.raises(BenchError, match="parameter width has no value for profile\\(s\\) test"):
        attack_card("gappy")


def test_a_card_in_the_old_layout_says_how_to_declare_parameters(world: Path) -> None:
    old = CARD.split("[params.steps]")[0] + "[defaults.cpu]\nsteps = 10\n"
    plant(world, "old-layout", card=old)
    with pytest.raises(BenchError, match=r"uses the old \[defaults\] table; declare each"):
        attack_card("old-layout")


def test_a_parameter_without_a_source_is_refused(world: Path) -> None:
    plant(world, "unsourced", card=CARD.replace('source = "suite\'s choice"\n', ""))
    with pytest.raises(BenchError, match="params.steps.source is missing"):
        attack_card("unsourced")


def test_a_record_names_every_parameter_it_ran_with(trained: Path) -> None:
    from tests.conftest import cell_record

    rec = cell_record("carlini", "8", budget=8, overrides={"clique_k": 2}, write=False)
    assert rec["params"] == {**attack_card("carlini").params("cpu"), "clique_k": 2}
    assert set(rec["params"]) == set(attack_card("carlini").declared)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_class_documents_its_paper_threat_model_and_arguments(name: str) -> None:
    cls = checked_class(attack_card(name))
    own = cls.__doc__ or ""
    assert "Paper" in own and "Threat model" in own, name
    # A subclass that changes no argument (side-ti) may point at its base's list.
    documented = " ".join(c.__doc__ or "" for c in cls.__mro__[:-1])
    assert all(p in documented for p in attack_card(name).declared), name
