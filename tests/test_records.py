"""Reading and writing run records: strict JSON, known schemas, one line naming a bad file."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.paths import REPO_ROOT, reports_dir
from bench.records import SCHEMA, read_record, write_record

MINIMAL = {"attack": "carlini", "model": "m", "seed": 0, "budget": 8, "params": {}, "metrics": {}}
COMMITTED = sorted(
    p for runs in ("runs", "sweeps/runs") for p in (REPO_ROOT / "reports" / runs).rglob("*.json")
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"attack": ', "is not valid JSON"),
        (json.dumps(MINIMAL).replace('"metrics": {}', '"metrics": {"ams": NaN}'), "NaN is not"),
        ("[1, 2]", "is not a JSON object"),
        (json.dumps({**MINIMAL, "schema": 4}), "has schema 4; this code reads schemas 1, 2, 3"),
        (json.dumps({**MINIMAL, "schema": "3"}), "has schema '3'"),
        (json.dumps({"attack": "carlini"}), "lacks model, seed, budget, params, metrics"),
    ],
)
def test_a_bad_record_is_one_error_naming_its_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "seed0-n8-abc.json"
    path.write_text(text)
    with pytest.raises(BenchError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        read_record(path)


def test_records_without_a_schema_are_schema_1(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(MINIMAL))
    assert read_record(path) == MINIMAL


def test_every_committed_record_is_readable() -> None:
    assert COMMITTED, "reports/runs/ holds the leaderboard's records"
    for path in COMMITTED:
        assert read_record(path)["schema"] in (1, SCHEMA)


def test_a_non_finite_value_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    record = {**MINIMAL, "metrics": {"ums": {"high": math.nan}}}
    with pytest.raises(BenchError, match="holds a non-finite metrics.ums.high"):
        write_record(path, record)
    assert not path.exists()
    write_record(path, MINIMAL)
    assert read_record(path) == MINIMAL


@pytest.mark.parametrize("text", ["{ truncated", json.dumps(MINIMAL).replace("{}", "NaN", 1)])
def test_report_stops_at_a_bad_record_and_keeps_the_leaderboard(
    world: Path, capsys: pytest.CaptureFixture, text: str
) -> None:
    bad = reports_dir() / "runs" / "carlini" / "tiny-8" / "seed0-n8-abc.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(text)
    board = reports_dir() / "leaderboard.md"
    board.write_text("the committed leaderboard\n")
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: run record {bad} ")
    assert board.read_text() == "the committed leaderboard\n"
