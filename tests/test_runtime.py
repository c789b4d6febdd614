"""Threads, the loaded-machine notice and the compile switch (``bench.utils.runtime``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.runner.executors import job_threads
from bench.utils import runtime
from tests.test_faults import one_error_line


@pytest.fixture
def one_thread_after() -> Iterator[None]:
    """Commands here set torch's threads for the whole test process: put back the one thread."""
    yield
    torch.set_num_threads(1)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, value: str
) -> None:
    monkeypatch.setenv("BENCH_THREADS", value)
    assert main(["list", "attacks"]) == 2
    line = one_error_line(capsys)
    assert f"BENCH_THREADS={value!r} is not a positive integer" in line
    assert f"may use {runtime.available_cpus()} CPUs" in line


def test_an_absurd_thread_count_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, one_thread_after: None
) -> None:
    monkeypatch.setenv("BENCH_THREADS", "999999")
    assert main(["list", "attacks"]) == 2
    most = runtime.OVERSUBSCRIBE * runtime.available_cpus()
    assert "BENCH_THREADS=999999 is more threads than" in one_error_line(capsys)
    monkeypatch.setenv("BENCH_THREADS", str(most))  # the largest allowed still runs
    assert main(["list", "attacks"]) == 0
    assert torch.get_num_threads() == most


def test_the_cli_sets_torchs_threads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, one_thread_after: None
) -> None:
    monkeypatch.setenv("BENCH_THREADS", "3")
    assert main(["list", "attacks"]) == 0
    assert torch.get_num_threads() == 3


def test_the_default_is_the_cpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runtime.requested_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a user's OMP setting is honoured
    assert runtime.requested_threads() == 1
    monkeypatch.setenv("BENCH_THREADS", "2")  # and BENCH_THREADS wins over it
    assert runtime.requested_threads() == 2


def test_a_local_grid_splits_the_threads_among_its_workers(one_thread_after: None) -> None:
    torch.set_num_threads(4)
    assert job_threads("local", 2) == 2
    assert job_threads("local", 3) == 1
    assert job_threads("local", 8) == 1  # never none
    assert job_threads("local", None) == 4
    assert job_threads("slurm", 2) is None  # a task takes its own allocation's CPUs


def test_a_loaded_machine_gets_one_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    cpus = runtime.available_cpus()
    monkeypatch.setattr(runtime, "machine_load", lambda: cpus - 0.5)
    runtime.warn_if_loaded.cache_clear()
    assert not runtime.warn_if_loaded()
    monkeypatch.setattr(runtime, "machine_load", lambda: float(cpus))
    runtime.warn_if_loaded.cache_clear()
    assert runtime.warn_if_loaded() and runtime.warn_if_loaded()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"note: the machine is already loaded (1-minute load average {cpus:.1f}")


def test_a_run_on_a_loaded_machine_says_so_once(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(runtime, "machine_load", lambda: 1e3)
    runtime.warn_if_loaded.cache_clear()  # training the fixture's models asked already
    argv = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json"]
    assert main(argv) == 0 and main(argv) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "already loaded" in notes[0]


@pytest.mark.parametrize("value", ["yes", "2", "true"])
def test_a_bad_compile_switch_is_one_line_and_exit_2(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, value: str
) -> None:
    monkeypatch.setenv("BENCH_COMPILE", value)
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8"]) == 2
    assert f"BENCH_COMPILE={value!r}: use 1" in one_error_line(capsys)


def _carlini(capsys: pytest.CaptureFixture, *extra: str) -> dict:
    import json

    argv = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json", *extra]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_compile_is_recorded_and_kept_apart(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The plumbing, with torch.compile replaced by a wrapper that counts its calls (a real
    compile takes ~45 s even on the tiny model; ``test_a_compiled_run_matches_eager`` does it)."""
    compiled: list[torch.nn.Module] = []

    def fake_compile(module: torch.nn.Module) -> torch.nn.Module:
        compiled.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    eager = _carlini(capsys)
    assert eager["runtime"]["compiled"] is False and not compiled
    flagged = _carlini(capsys, "--compile")
    assert len(compiled) == 1 and flagged["runtime"]["compiled"] is True
    # Compiled outputs never resume eager shards, nor read eager pool batches.
    assert flagged["outputs"] == eager["outputs"] + "-compiled"
    assert flagged["pool"]["reused"] == []
    assert flagged["metrics"] == eager["metrics"]  # the same module ran
    monkeypatch.setenv("BENCH_COMPILE", "1")
    assert _carlini(capsys)["runtime"]["compiled"] is True
    assert len(compiled) == 2


@pytest.mark.skipif(
    os.environ.get("BENCH_TEST_COMPILE") != "1",
    reason="torch.compile takes about 45 s on the tiny model on one CPU thread; "
    "set BENCH_TEST_COMPILE=1 to run it",
)
def test_a_compiled_run_matches_eager(trained: Path, capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    from bench.attacks.store import RunStore
    from bench.utils.paths import bench_home

    eager = _carlini(capsys)
    compiled = _carlini(capsys, "--compile")
    assert compiled["runtime"]["compiled"] is True
    a, b = (RunStore(bench_home() / r["outputs"]).images().astype(int) for r in (eager, compiled))
    assert np.abs(a - b).max() <= 1  # rounding moves a pixel by one grey level at most
