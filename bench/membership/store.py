"""Where the track's records go and how they are read back.

Under a results root (``reports/`` with ``--publish``, else ``--out`` or ``BENCH_HOME/results``):
``membership/runs/<method>/<model>.json`` (one record per method and model at the track's seed),
``membership/tuning/<method>.json`` (a sweep on the tuning model), ``membership/floors.json`` and
``membership/rerank/<model>.json`` (a carlini run re-ranked by membership scores).
Records are strict JSON read by one function that names the file for anything it cannot use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from bench.errors import BenchError
from bench.membership.cards import method_card
from bench.membership.score import SCHEMA
from bench.utils.atomic import write_json_atomic
from bench.utils.schema import Lenient, parse

FOLDER = "membership"
REQUIRED = ("method", "model", "params", "metrics", "member_scores", "heldout_scores")


def run_path(root: Path, method: str, model: str) -> Path:
    return root / FOLDER / "runs" / method / f"{model}.json"


def tuning_path(root: Path, method: str) -> Path:
    return root / FOLDER / "tuning" / f"{method}.json"


def rerank_path(root: Path, model: str) -> Path:
    return root / FOLDER / "rerank" / f"{model}.json"


def floors_path(root: Path) -> Path:
    return root / FOLDER / "floors.json"


def write(path: Path, record: dict[str, Any]) -> None:
    write_json_atomic(path, record)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(), parse_constant=_refuse)
    except OSError as exc:
        raise BenchError(f"{path} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise BenchError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} is not a JSON object")
    return data


def read_run(path: Path) -> dict[str, Any]:
    record = read_json(path)
    if record.get("schema") != SCHEMA or record.get("track") != FOLDER:
        raise BenchError(f"{path} is not a membership record of schema {SCHEMA}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise BenchError(f"membership record {path} lacks {', '.join(missing)}")
    return record


def all_runs(root: Path) -> list[dict[str, Any]]:
    """Every membership record under ``root``, in path order, whatever its card version."""
    return [read_run(p) for p in sorted((root / FOLDER / "runs").glob("*/*.json"))]


def runs(root: Path) -> list[dict[str, Any]]:
    """The records made at their method card's current version: a record of an earlier version
    scored other parameters than the card now states, so no table or floor reads it."""
    return [r for r in all_runs(root) if not stale(r)]


def stale(record: dict[str, Any]) -> bool:
    """Whether the record's method card has changed version since it was made."""
    return record.get("method_version") != method_card(record["method"]).version


def _refuse(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


class TuningRow(Lenient):
    """One swept value: its held-out AUC at each tuning seed, and what scoring it cost."""

    value: Any
    auc: Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=1)]
    unet_evaluations: Annotated[int, Field(ge=0)]


class TuningFile(Lenient):
    """A method's tuning sweep (``bench mia tune``): the rows the rule reads and its pick."""

    method: str
    param: str
    card_value: Any
    rows: Annotated[list[TuningRow], Field(min_length=1)]
    chosen: Any
    why: str


def read_tuning(path: Path) -> dict[str, Any]:
    """A tuning file, checked at the boundary: one line naming the file and the field if not."""
    data = read_json(path)
    parse(TuningFile, data, f"tuning file {path}", "re-run `bench mia tune`")
    return data
