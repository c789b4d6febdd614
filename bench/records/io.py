"""Run records on disk: one reader and one writer, so every command agrees on what a record is.

Records are the leaderboard's only source and outlive the code that wrote them. The reader names
the file for anything it cannot use (bad JSON, a NaN, a schema this code does not know) instead of
failing deep inside a report; the writer refuses non-finite numbers, which strict JSON parsers
reject and which once reached the leaderboard as a NaN row.

The schemas and every field are described in ``bench.records.types``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.attacks.declared import class_of
from bench.cards import attack_card, model_card
from bench.cards.validate import non_finite_path
from bench.errors import BenchError
from bench.records.schema import RecordHead, ReportRecord
from bench.records.types import RunRecord
from bench.utils.atomic import write_json_atomic
from bench.utils.imagefiles import regular_file
from bench.utils.schema import parse

SCHEMA = 7
SUPPORTED = (1, 2, 3, 4, 5, 6, 7)
REQUIRED = ("attack", "model", "seed", "budget", "params", "metrics")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def read_record(path: Path) -> RunRecord:
    """A run or sweep record, checked for strict JSON, a known schema and its required fields."""
    try:
        text = regular_file(path, "run record").read_text()  # a FIFO named *.json would hang
        record = json.loads(text, parse_constant=_refuse_constant)
    except OSError as exc:
        raise BenchError(f"run record {path} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError, a NaN or Infinity, or bytes that are not UTF-8
        raise BenchError(f"run record {path} is not valid JSON ({exc}); re-run its cell") from None
    except RecursionError:  # thousands of nested brackets: no record is nested that deep
        raise BenchError(f"run record {path} is nested too deeply to be a record") from None
    if not isinstance(record, dict):
        raise BenchError(f"run record {path} is not a JSON object; re-run its cell")
    schema = record.get("schema", 1)
    if isinstance(schema, bool) or schema not in SUPPORTED:
        raise BenchError(
            f"run record {path} has schema {schema!r}; this code reads schemas "
            f"{', '.join(map(str, SUPPORTED))} (a newer record needs newer code)"
        )
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise BenchError(f"run record {path} lacks {', '.join(missing)}; re-run its cell")
    parse(RecordHead, record, f"run record {path}", "re-run its cell")
    _check_outputs(path, record.get("outputs"))
    return record


def _check_outputs(path: Path, outputs: Any) -> None:
    """A record's ``outputs`` names a folder relative to BENCH_HOME and nothing else: an absolute
    path or one with ``..`` made `bench report --galleries` read, and delete, files elsewhere.
    (Readers still resolve it with ``bench.utils.paths.home_path``, which also catches links.)"""
    if outputs is None:
        return
    parts = Path(outputs).parts if isinstance(outputs, str) else ()
    if not parts or Path(outputs).is_absolute() or ".." in parts:
        raise BenchError(
            f"run record {path}: outputs is {json.dumps(outputs)[:40]}, not a folder relative to "
            "BENCH_HOME; re-run its cell"
        )


def check_report_fields(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` once every field the leaderboard reads is there with its type and bounds
    (``bench.records.schema.ReportRecord``); otherwise one line naming the file and the field (a
    record lacking ``metrics.ams`` used to end the report in a KeyError), the ``info`` included
    where its attack declares a schema for it (``Attack.info_schema``)."""
    parse(ReportRecord, record, f"run record {path}", "re-run its cell")
    cls = class_of(record["attack"])
    if cls is not None and cls.info_schema is not None and record.get("info") is not None:
        parse(cls.info_schema, record["info"], f"run record {path}: info", "re-run its cell")
    return record


def write_record(path: Path, record: RunRecord) -> None:
    """Write ``record`` atomically as strict JSON; a non-finite value is refused, naming its key."""
    bad = non_finite_path(record)
    if bad:
        raise BenchError(f"the record for {path} holds a non-finite {bad}; it was not written")
    write_json_atomic(path, record)


def staleness(rec: dict[str, Any]) -> str:
    """Why a record no longer describes the current cards ('' when it does)."""
    try:
        acard = attack_card(rec["attack"])
    except BenchError:
        return "attack card removed"
    if rec.get("attack_version") != acard.version:
        return f"attack card v{rec.get('attack_version')} (now v{acard.version})"
    if rec.get("external"):  # a user's folder: its weights are named by digest, not by a card
        return ""
    try:
        mcard = model_card(rec["model"])
    except BenchError:
        return "model card removed"
    if mcard.trained.get("checkpoint_sha256") not in (None, rec.get("checkpoint_sha256")):
        return "checkpoint retrained since"
    return ""
