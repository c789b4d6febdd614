"""The cell lock: two runs of one cell never interleave, and a killed run leaves no stale lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.utils.locks import lock_cell, release
from bench.utils.paths import REPO_ROOT, bench_home

HOLD = """
import sys
from pathlib import Path
from bench.errors import BenchError
from bench.utils.locks import lock_cell
try:
    lock_cell(Path(sys.argv[1]))
    print("locked", flush=True)
except BenchError:
    print("busy", flush=True)
sys.stdin.read()  # hold the lock until the test closes stdin
"""


def holder(folder: Path) -> subprocess.Popen:
    """Another process that tries to take the lock of ``folder`` and keeps it until stdin ends."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def finish(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait()


def test_processes_started_together_get_the_lock_once(tmp_path: Path) -> None:
    procs = [holder(tmp_path) for _ in range(3)]
    try:
        answers = sorted(p.stdout.readline().strip() for p in procs)
    finally:
        for p in procs:
            finish(p)
    assert answers == ["busy", "busy", "locked"]


def test_the_same_process_may_retake_its_lock_and_others_may_after_release(
    tmp_path: Path,
) -> None:
    path = lock_cell(tmp_path)
    assert lock_cell(tmp_path) == path  # a retry after a failed run in this process
    other = holder(tmp_path)
    try:
        assert other.stdout.readline().strip() == "busy"
    finally:
        finish(other)
    release(path)
    other = holder(tmp_path)
    try:
        assert other.stdout.readline().strip() == "locked"
    finally:
        finish(other)


def test_a_second_run_of_a_running_cell_is_one_line(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json"]
    assert main(argv) == 0
    outputs = bench_home() / json.loads(capsys.readouterr().out)["outputs"]
    record = next((bench_home() / "results").rglob("*.json"))
    before = record.read_bytes()

    other = holder(outputs)
    try:
        assert other.stdout.readline().strip() == "locked"
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "this cell is already running (pid" in err
        assert record.read_bytes() == before
    finally:
        other.kill()  # like a killed run: the lock file stays, its flock goes with the process
        other.wait()
    assert (outputs / "lock").is_file()
    assert main(argv) == 0


@pytest.mark.parametrize("dangling", [False, True])
def test_a_planted_lock_symlink_is_refused_and_its_target_untouched(
    tmp_path: Path, dangling: bool
) -> None:
    """A ``lock`` that is a link (to a file, or to nothing) is refused with one line: following
    it would overwrite its target with the owner's line, or create a file anywhere."""
    cell = tmp_path / "cell"
    cell.mkdir()
    target = tmp_path / "elsewhere.txt"
    if not dangling:
        target.write_text("precious")
    (cell / "lock").symlink_to(target)
    with pytest.raises(BenchError, match="symbolic link"):
        lock_cell(cell)
    assert (target.read_text() == "precious") if not dangling else not target.exists()


def test_a_lock_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "lock")
    with pytest.raises(BenchError, match="not a regular file"):
        lock_cell(tmp_path)
