"""Attack-strength regression on the committed zoo: fixed seeds against measured floors.

Runs where BENCH_DATA points at CelebA (CI sets it). Each floor file under reports/floors/ was
written by `python -m bench floors` from several seeds; the test re-runs the floor file's CI seed
and fails if any floored metric falls below its floor (mean − 3σ of that measurement, with at
least one output or member of margin). Then each of the attack's mutations (its mechanism
switched off, `bench.attacks.mutations`) is run on the same cell and must fall below some floor: a
floor that a broken attack clears would let CI pass a broken attack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.attacks.base import checked_class
from bench.attacks.mutations import mutations_for
from bench.cards import attack_card
from bench.runner.floors import floor_cell, weaker
from bench.utils.paths import REPO_ROOT

ROOT = os.environ.get("BENCH_DATA")
FLOOR_FILES = sorted((REPO_ROOT / "reports" / "floors").glob("*.json"))
needs_data = pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="BENCH_DATA not set")


def _spec(path: Path) -> dict:
    return json.loads(path.read_text())


def _mutation_cases() -> list[tuple[Path, str]]:
    return [(p, name) for p in FLOOR_FILES for name in _spec(p).get("mutations", {})]


@pytest.fixture(scope="module")
def committed_zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The repository's cards and a BENCH_HOME shared by the module, so a floor cell's synthetic
    set and classifier are made once; outputs are discarded after every run (``floor_cell``)."""
    home = tmp_path_factory.mktemp("home")
    saved = {v: os.environ.pop(v, None) for v in ("BENCH_CARDS", "BENCH_REPORTS", "BENCH_HOME")}
    os.environ["BENCH_HOME"] = str(home)
    yield home
    for var, value in saved.items():
        os.environ.pop(var, None)
        if value is not None:
            os.environ[var] = value


def test_floor_files_exist_and_name_their_mutations() -> None:
    assert FLOOR_FILES, "reports/floors/ must hold at least one measured floor file"
    for path in FLOOR_FILES:
        spec = _spec(path)
        acard = attack_card(spec["attack"])
        found = mutations_for(checked_class(acard), acard)
        assert set(spec.get("mutations", {})) == set(found), path.name


@needs_data
@pytest.mark.parametrize("path", FLOOR_FILES, ids=[p.stem for p in FLOOR_FILES])
def test_attack_is_not_weaker_than_its_floor(path: Path, committed_zoo: Path) -> None:
    spec = _spec(path)
    rec = floor_cell(spec)
    assert rec["checkpoint_sha256"] == spec["checkpoint_sha256"], "floors measured on other weights"
    assert not weaker(spec, rec), f"{spec['attack']} got weaker (value, floor): {weaker(spec, rec)}"


@needs_data
@pytest.mark.parametrize(
    "path,name", _mutation_cases(), ids=[f"{p.stem}:{n}" for p, n in _mutation_cases()]
)
def test_a_mutated_attack_falls_below_its_floor(path: Path, name: str, committed_zoo: Path) -> None:
    spec = _spec(path)
    if not spec["mutations"][name]["caught"]:
        pytest.skip(f"measured: the floors of {path.name} cannot tell '{name}' apart")
    rec = floor_cell(spec, mutation=name)
    assert weaker(spec, rec), f"'{name}' cleared every floor of {path.name}"
