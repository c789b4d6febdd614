"""HEAD reproduces a committed leaderboard record, so the leaderboard cannot drift from the code.

Runs where BENCH_DATA points at CelebA (CI sets it). It re-runs one committed cell, carlini on
celeba-64-cpu at seed 0 and N_G 512 (about 40 s on one core), into a temporary BENCH_HOME with the
attack card's current defaults, and requires the committed metrics. Counts and fractions must be
equal; distances may differ in float32's last bits, which depend on the CPU's vector width (faiss's
BLAS, numpy's reductions): the committed record's own commit, re-run on another CPU, moved them by
~1e-7 and swapped two cliques whose mean distances tied to that precision. A count that changes by
one moves a fraction by at least 1/N_G, far beyond the tolerance.

When this fails the record is stale: re-run its cell with `--publish` and commit the record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.records import read_record
from bench.utils.paths import REPO_ROOT
from tests.conftest import cell_record

ROOT = os.environ.get("BENCH_DATA")
RECORD = REPO_ROOT / "reports/runs/carlini/celeba-64-cpu/seed0-n512-cf70a8ec81.json"


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as one {dotted path: leaf} dict, which ``pytest.approx`` compares."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value}
    return {k: v for key, item in items for k, v in flat(item, f"{prefix}.{key}").items()}


def compared(record: dict[str, Any]) -> dict[str, Any]:
    """What must reproduce: the metrics, the ranked candidates' scores, the cost and parameters."""
    candidates = dict(record["candidates"])
    candidates["nearest_l2"] = sorted(candidates["nearest_l2"])  # near-tied ranks may swap
    return flat(
        {
            "metrics": record["metrics"],
            "candidates": candidates,
            "cost": record["cost"],
            "params": record["params"],
        }
    )


@pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="BENCH_DATA not set")
def test_head_reproduces_a_committed_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("BENCH_CARDS", "BENCH_REPORTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    committed = read_record(RECORD)
    rec = cell_record(
        committed["attack"],
        committed["scale"],
        seed=committed["seed"],
        budget=committed["budget"],
        model=committed["model"],
        progress=False,
        write=False,
    )
    assert rec["checkpoint_sha256"] == committed["checkpoint_sha256"], "the zoo model changed"
    assert compared(rec) == pytest.approx(compared(committed), rel=1e-5), (
        f"{RECORD.relative_to(REPO_ROOT)} is stale: re-run it with `python -m bench run "
        f"--attack {rec['attack']} --scale {rec['scale']} --seed {rec['seed']} --budget "
        f"{rec['budget']} --publish` and commit it"
    )
