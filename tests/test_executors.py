"""`bench grid --executor`: cells as submitit jobs give the records the serial grid gives."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.runner.executors import Outcome
from bench.utils.paths import bench_home, reports_dir

GRID = ["grid", "--seeds=0,1,2", "--budget=300", "--attacks=carlini", "--models=tiny-8"]

needs_submitit = pytest.mark.skipif(
    importlib.util.find_spec("submitit") is None, reason="needs the scale extra (submitit)"
)


def records() -> dict[int, Path]:
    return {
        json.loads(p.read_text())["seed"]: p
        for p in (reports_dir() / "runs" / "carlini" / "tiny-8").glob("*.json")
    }


def metrics(path: Path) -> str:
    return json.dumps(json.loads(path.read_text())["metrics"], sort_keys=True)


@needs_submitit
def test_local_executor_skips_resumes_and_runs_cells_as_the_serial_grid_does(
    trained: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(GRID) == 0
    serial = {seed: metrics(path) for seed, path in records().items()}
    assert sorted(serial) == [0, 1, 2]
    paths = records()
    kept = paths[0].stat().st_mtime_ns  # seed 0 keeps its record: skipped
    # seed 1 keeps its first shard of two and loses its record: resumed
    resumed = bench_home() / json.loads(paths[1].read_text())["outputs"]
    (resumed / "shard-00001.npz").unlink()
    first_shard = (resumed / "shard-00000.npz").stat()
    paths[1].unlink()
    # seed 2 loses its record and every output: new
    for shard in (bench_home() / json.loads(paths[2].read_text())["outputs"]).glob("shard-*"):
        shard.unlink()
    paths[2].unlink()
    capsys.readouterr()

    monkeypatch.setenv("BENCH_THREADS", "2")  # two workers share them: one thread each
    try:
        assert main([*GRID, "--executor=local", "--array-parallelism=2"]) == 0
    finally:
        torch.set_num_threads(1)
    out = capsys.readouterr().out
    assert "skip carlini tiny-8 seed 0: record exists" in out
    assert out.count("carlini on tiny-8") == 2  # the summaries of the two cells that ran
    after = records()
    assert after[0].stat().st_mtime_ns == kept
    again = (resumed / "shard-00000.npz").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first_shard.st_ino, first_shard.st_mtime_ns)
    assert (resumed / "shard-00001.npz").is_file()
    assert {seed: metrics(path) for seed, path in after.items()} == serial
    assert [json.loads(after[seed].read_text())["runtime"]["threads"] for seed in (1, 2)] == [1, 1]


@needs_submitit
def test_a_failed_cell_is_one_line_and_exit_1(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(Path(trained).parent / "no-such-celeba")
    assert main([*GRID, "--seeds=0", "--executor=local", f"--data-root={root}"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "no-such-celeba" in failed[0] and "logs:" in failed[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor=slurm"], 'executor slurm: Could not detect "srun"'),
        (["--executor=local", "--executor-option=novalue"], "expected KEY=VALUE"),
        (["--executor=local", "--executor-option=no_such_parameter=1"], "executor local"),
        (["--executor=local", "--executor-option=timeout_min=soon"], "executor local"),
    ],
)
@needs_submitit
def test_executor_mistakes_are_one_line(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun, even on a Slurm host: nothing submitted
    assert main([*GRID, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_an_executor_that_is_not_installed_is_one_line(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit now fails
    assert main([*GRID, "--executor=local"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "submitit, which is not installed" in err
    assert not (reports_dir() / "runs").exists()


@needs_submitit
def test_slurm_flags_reach_the_job_array_script(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Slurm is not installed here: a stand-in `sbatch` keeps the script submitit hands it."""
    from bench.runner import executors

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = tmp_path / "submitted.sh"
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {script}\necho Submitted batch job 4242\n')
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    # Waiting would poll a cluster that does not exist: the submission is what is checked.
    monkeypatch.setattr(executors, "_outcome", lambda _, cell, job: Outcome(cell, error="x"))
    args = [
        "--executor=slurm",
        "--slurm-partition=gpu",
        "--gpus=1",
        "--timeout-min=240",
        "--array-parallelism=2",
        "--executor-option=slurm_account=myproj",
    ]
    assert main([*GRID, *args]) == 1
    assert "submitted 3 cells as Slurm array 4242" in capsys.readouterr().out
    sbatch = script.read_text()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --time=240",
        "#SBATCH --array=0-2%2",
        "#SBATCH --account=myproj",
    ):
        assert line in sbatch
