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


def test_the_commit_ignores_records_and_is_taken_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records written during a grid must not mark its code dirty, and a HEAD that moves while
    the grid runs must not rename the code the grid started with."""
    import subprocess

    from bench import provenance

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    for name in ("code.py", "reports/r.json"):
        (tmp_path / name).write_text("1")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    provenance.git_commit.cache_clear()
    (tmp_path / "reports" / "r.json").write_text("2")
    first = provenance.git_commit()
    assert len(first) == 40  # a rewritten record is not dirty code
    (tmp_path / "code.py").write_text("2")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    assert provenance.git_commit() == first
    provenance.git_commit.cache_clear()
    assert provenance.git_commit() != first
    (tmp_path / "code.py").write_text("3")
    provenance.git_commit.cache_clear()
    assert provenance.git_commit().endswith("+dirty")
    provenance.git_commit.cache_clear()
