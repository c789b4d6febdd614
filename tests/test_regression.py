"""Attack-strength regression on the committed zoo: fixed seeds against measured floors.

Runs where BENCH_DATA points at CelebA (CI sets it). Each floor file under reports/floors/ was
written by `python -m bench floors` from several seeds; the test re-runs the floor file's CI seed
and fails if any floored metric falls below its floor: mean − 3σ of that measurement, with at
least one output (or one member) of margin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.floors import metric
from bench.harness import run_cell
from bench.paths import REPO_ROOT

ROOT = os.environ.get("BENCH_DATA")
FLOOR_FILES = sorted((REPO_ROOT / "reports" / "floors").glob("*.json"))


def test_floor_files_exist() -> None:
    assert FLOOR_FILES, "reports/floors/ must hold at least one measured floor file"


@pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="BENCH_DATA not set")
@pytest.mark.parametrize("path", FLOOR_FILES, ids=[p.stem for p in FLOOR_FILES])
def test_attack_is_not_weaker_than_its_floor(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("BENCH_CARDS", "BENCH_REPORTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    spec = json.loads(path.read_text())
    rec = run_cell(
        spec["attack"],
        spec["scale"],
        seed=spec["ci_seed"],
        budget=spec["budget"],
        overrides=spec["overrides"],
        progress=False,
        write=False,
    )
    assert rec["checkpoint_sha256"] == spec["checkpoint_sha256"], "floors measured on other weights"
    weaker = {
        name: (metric(rec, name), m["floor"])
        for name, m in spec["metrics"].items()
        if metric(rec, name) < m["floor"]
    }
    assert not weaker, f"{spec['attack']} got weaker (value, floor): {weaker}"
