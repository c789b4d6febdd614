"""Where records go: a user's run never replaces a committed record; --publish and grid do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.records import SCHEMA
from bench.utils.paths import bench_home, reports_dir

RUN = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8"]


def _only_record(root: Path) -> Path:
    (path,) = (root / "runs").rglob("*.json")
    return path


def test_a_user_run_leaves_committed_records_alone(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main([*RUN, "--publish"]) == 0
    committed = _only_record(reports_dir())
    before = committed.read_bytes()
    capsys.readouterr()

    assert main(RUN) == 0
    mine = _only_record(bench_home() / "results")
    assert f"record: {mine}" in capsys.readouterr().out
    assert committed.read_bytes() == before
    assert mine.relative_to(bench_home() / "results") == committed.relative_to(reports_dir())

    assert main([*RUN, "--out", str(tmp_path / "elsewhere")]) == 0
    assert json.loads(_only_record(tmp_path / "elsewhere").read_text())["seed"] == 0
    assert committed.read_bytes() == before


def test_grid_writes_the_leaderboard_records(trained: Path) -> None:
    assert main(["grid", "--seeds", "0", "--budget", "8", "--attacks", "carlini"]) == 0
    record = json.loads(_only_record(reports_dir()).read_text())
    assert record["model"] == "tiny-8" and record["schema"] == SCHEMA
    assert not (bench_home() / "results").exists()


def test_grid_reruns_a_record_of_an_older_attack_card(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """A card version bump keeps the parameters, hence the record's path: the grid must not take
    the old record for the new cell."""
    grid = ["grid", "--seeds", "0", "--budget", "8", "--attacks", "carlini", "--models", "tiny-8"]
    assert main(grid) == 0
    path = _only_record(reports_dir())
    old = json.loads(path.read_text())
    path.write_text(json.dumps({**old, "attack_version": old["attack_version"] - 1}))
    capsys.readouterr()
    assert main(grid) == 0
    assert (
        "re-run carlini tiny-8 seed 0: record is attack card v0 (now v1)" in capsys.readouterr().out
    )
    assert json.loads(path.read_text())["attack_version"] == old["attack_version"]
    assert main(grid) == 0
    assert "skip carlini tiny-8 seed 0: record exists" in capsys.readouterr().out


def test_publish_and_out_exclude_each_other(world: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*RUN, "--publish", "--out", "x"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
