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

from bench.cards import attack_card, model_card
from bench.cards.validate import non_finite_path
from bench.errors import BenchError
from bench.records.types import RunRecord
from bench.utils.atomic import write_json_atomic

SCHEMA = 7
SUPPORTED = (1, 2, 3, 4, 5, 6, 7)
REQUIRED = ("attack", "model", "seed", "budget", "params", "metrics")
# The types of the required fields: a record whose metrics is a string parses as JSON and used to
# pass, then broke `bench report` with a TypeError.
REQUIRED_TYPES = {
    "attack": "str",
    "model": "str",
    "seed": "int",
    "budget": "int",
    "params": "object",
    "metrics": "object",
}


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def read_record(path: Path) -> RunRecord:
    """A run or sweep record, checked for strict JSON, a known schema and its required fields."""
    try:
        record = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except OSError as exc:
        raise BenchError(f"run record {path} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError, a NaN or Infinity, or bytes that are not UTF-8
        raise BenchError(f"run record {path} is not valid JSON ({exc}); re-run its cell") from None
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
    _check(path, record, REQUIRED_TYPES, "")
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


def _report_fields() -> dict[str, Any]:
    """Every field the leaderboard reads from a record (``bench.report.frame.record_row``; what
    each means is in ``bench.records.types``), by type: a key ending in '?' may be absent (older
    schemas lack it), '*' stands for every key of an object, a tuple lists the types allowed and
    a one-item list is a list of that."""
    from bench.metrics.bands import BAND_NAMES

    bands = {band: "number" for band in BAND_NAMES}
    counts = {"*": "number"}
    return {
        **REQUIRED_TYPES,
        "scale": "str",
        "profile": "str",
        "dataset": "str",
        "external?": "bool",
        "member_manifest?": {"n": "int"},
        "cost": {"unet_evaluations": "number", "classifier_evaluations": "number"},
        "metrics": {
            "gu_fraction": "number",
            "nearest_median?": "number",
            "ams": bands,
            "ums": bands,
            "hit_rate?": bands,
            "extracted": counts,
            "nonmember": {"ums": bands, "hit_rate?": bands, "nearest_median?": "number"},
        },
        "candidates?": ("null", {"n": "number", "extracted": counts}),
        "canaries?": (
            "null",
            {
                "tiers?": [{"times": "number", "n": "number", "hit_rate": {"high": "number"}}],
                "lowest_tier_reached?": ("null", "number"),
            },
        ),
        "info?": "object",  # its keys are the attack's own (``Attack.diagnostics`` reads them)
    }


_TYPES: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _kind(spec: Any) -> str:
    if isinstance(spec, str):
        return "a JSON " + {"str": "string", "int": "integer"}.get(spec, spec)
    if isinstance(spec, dict):
        return "a JSON object"
    if isinstance(spec, list):
        return "a JSON list"
    return " or ".join(_kind(s) for s in spec)


def _fits(value: Any, spec: Any) -> bool:
    if isinstance(spec, str):
        return _TYPES[spec](value)
    if isinstance(spec, dict):
        return isinstance(value, dict)
    if isinstance(spec, list):
        return isinstance(value, list)
    return any(_fits(value, s) for s in spec)


def _check(path: Path, value: Any, spec: Any, where: str) -> None:
    """Raise the one line naming ``path`` and the dotted field of the first value off ``spec``."""
    if not _fits(value, spec):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise BenchError(
            f"run record {path}: {where or 'the record'} is {shown}, not {_kind(spec)}; "
            "re-run its cell"
        )
    if isinstance(spec, tuple):
        spec = next(s for s in spec if _fits(value, s))
    if isinstance(spec, list):
        for i, item in enumerate(value):
            _check(path, item, spec[0], f"{where}[{i}]")
    if not isinstance(spec, dict):
        return
    for key, sub in spec.items():
        if key == "*":
            for k, v in value.items():
                _check(path, v, sub, f"{where}.{k}" if where else k)
            continue
        name = key.removesuffix("?")
        field = f"{where}.{name}" if where else name
        if name in value:
            _check(path, value[name], sub, field)
        elif not key.endswith("?"):
            raise BenchError(f"run record {path} lacks {field}; re-run its cell")


def check_report_fields(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` once every field the leaderboard reads is there with its type; otherwise one
    line naming the file and the field (a record lacking ``metrics.ams`` used to end the report
    in a KeyError)."""
    _check(path, record, _report_fields(), "")
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
