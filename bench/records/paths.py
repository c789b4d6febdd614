"""Where a run's record goes: the user's results folder, unless the run is published.

The records under reports/ are the leaderboard, so a user's run must never replace one (the
README's main job once did, with numbers from newer code). User runs go to BENCH_HOME/results or
to ``--out``; only ``--publish``, and `bench grid`, which refreshes the leaderboard, write into
reports/.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bench.utils.folders import writable_folder
from bench.utils.paths import bench_home, reports_dir

SWEEP_RECORDS = "sweeps/runs"
CURVE_RECORDS = "curves/runs"


def user_results() -> Path:
    return writable_folder(bench_home() / "results", "the results folder")


def results_root(publish: bool = False, out: str | None = None) -> Path:
    """The folder a command's records go under, checked before the command does any work."""
    if publish:
        return writable_folder(reports_dir(), "the reports folder")
    if out is not None:
        return writable_folder(Path(out).expanduser(), "the --out folder")
    return user_results()


def params_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def record_path(record: dict[str, Any], kind: str = "runs", root: Path | None = None) -> Path:
    """Where a record lives under ``root`` (default reports/): ``runs`` feed the leaderboard,
    ``sweeps/runs`` only their sweep table, ``curves/runs`` the budget curves.

    Sweep records stay apart because the sweep's winning λ becomes the card default, and its
    tuning seed must not be averaged into the leaderboard's grid seeds.
    """
    tag = params_key(record["params"])
    return (
        (root or reports_dir())
        / kind
        / record["attack"]
        / record["model"]
        / f"seed{record['seed']}-n{record['budget']}-{tag}.json"
    )


def curve_path(record: dict[str, Any], root: Path) -> Path:
    return record_path(record, CURVE_RECORDS, root)
