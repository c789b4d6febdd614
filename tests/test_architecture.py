"""The package's shape, enforced: layers in data-flow order, argparse in the CLI only, and no
generic module that knows an attack by name.

The layer check is an import contract: every ``bench`` import in a module (at any depth, lazy
imports inside functions included) must point at the module's own layer or one below it. It
parses the sources with ``ast``, so it needs nothing installed and runs in CI with the suite.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bench.utils.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "bench"
# Lowest first: a module may import from its own layer and the layers before it.
LAYERS = (
    "utils",
    "cards",
    "data",
    "metrics",
    "zoo",
    "attacks",
    "records",
    "membership",
    "runner",
    "report",
    "cli",
)
# Root modules every layer may import (the one exception type), and the entry points above all.
ROOT_FREE = {"bench.errors"}
ROOT_TOP = {"bench.__main__", "bench"}


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def imported(source: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every ``bench`` module the source imports, lazy imports included;
    ``from bench.cli import run`` imports the submodule ``bench.cli.run`` where one exists."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "bench"]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "bench"
        ):
            out.append((node.lineno, node.module))
            subs = (f"{node.module}.{a.name}" for a in node.names)
            out += [(node.lineno, m) for m in subs if m in known]
    return out


def layer(module: str) -> int | None:
    """The layer index of a ``bench`` module; None for the root modules."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def upward_imports(sources: dict[str, str]) -> list[str]:
    """Every import from a lower layer into a higher one, as ``module:line -> target``."""
    bad = []
    known = set(modules()) | set(sources)
    for module, source in sources.items():
        own = layer(module)
        for line, target in imported(source, known):
            there = layer(target)
            if module in ROOT_TOP or target in ROOT_FREE or target == "bench":
                continue
            if own is None:  # a root module other than the entry points imports nothing above
                if there is not None:
                    bad.append(f"{module}:{line} -> {target}")
            elif there is None or there > own:
                bad.append(f"{module}:{line} -> {target}")
    return bad


def test_layers_import_only_downwards() -> None:
    sources = {m: p.read_text() for m, p in modules().items()}
    assert upward_imports(sources) == []


def test_the_contract_catches_a_planted_upward_import() -> None:
    planted = {
        "bench.metrics.scores": "def f():\n    from bench.runner.cell import run_cell\n",
        "bench.cards.schema": "import bench.report.frame\n",
        "bench.zoo.load": "from bench.zoo import build\nfrom bench.utils.paths import REPO_ROOT\n",
    }
    assert upward_imports(planted) == [
        "bench.metrics.scores:2 -> bench.runner.cell",
        "bench.cards.schema:1 -> bench.report.frame",
    ]


def test_every_package_is_a_layer_and_the_root_stays_small() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 9, root
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(LAYERS)


def test_argparse_lives_in_the_cli_only() -> None:
    users = [
        m
        for m, p in modules().items()
        if not m.startswith("bench.cli") and re.search(r"^\s*import argparse", p.read_text(), re.M)
    ]
    assert users == []


# The attacks' own modules, and the mechanisms only they use (SIDE's classifier and clusters,
# Carlini's cliques): generic code reaches them through an attack's declarations (``Draws``,
# ``GuidanceShape.untrained``), so `bench perf` never imports SIDE's classifier (issue 35).
ATTACK_MODULES = ("side", "carlini", "text_conditional", "classifier", "clusters", "cliques")


def names_an_attack(source: str, attacks: set[str], classes: set[str]) -> list[int]:
    """Lines that import an attack's class or module, use its class, or hold an attack's name as
    a string constant (a comparison or a lookup by name); prose that mentions one is fine."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench.attacks"):
            last = (node.module or "").rsplit(".", 1)[-1]
            if last in ATTACK_MODULES or any(
                a.name in classes | set(ATTACK_MODULES) for a in node.names
            ):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Name)
            and node.id in classes
            or (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in attacks
            )
        ):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_no_generic_module_names_an_attack() -> None:
    """Outside bench/attacks/, no module imports an attack's class or branches on its name:
    what is an attack's own (bounds, diagnostics, mutations, claims) lives in its card or
    class."""
    from bench.attacks.declared import class_of
    from bench.cards import attack_names

    attacks = set(attack_names())
    classes = {cls.__name__ for cls in map(class_of, attacks) if cls is not None}
    assert {"Side", "SideTI", "Carlini", "TextConditional"} <= classes
    found = {
        module: lines
        for module, path in modules().items()
        if not module.startswith("bench.attacks")
        and (lines := names_an_attack(path.read_text(), attacks, classes))
    }
    assert found == {}


def test_the_name_check_catches_a_branch_on_an_attack() -> None:
    source = 'def f(rec):\n    if rec["attack"] == "side":\n        return 1\n'
    assert names_an_attack(source, {"side"}, {"Side"}) == [2]
    assert names_an_attack("from bench.attacks.side import Side\n", {"side"}, {"Side"}) == [1]
    assert names_an_attack('"""SIDE and carlini, in prose."""\n', {"carlini"}, {"Side"}) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m != "bench.__main__"))
def test_every_module_imports(module: str) -> None:
    __import__(module)
