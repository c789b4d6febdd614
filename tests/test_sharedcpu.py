"""`bench perf --shared-cpu`: the mechanics of the measurement, not its wall-clock outcome.

The ratio is shared over alone, both timed in one run with the spinner paused for one and
running for the other; the spinner is gone when the measurement ends, by error or by a killed
parent; each setting's subprocess really runs with its threads and wait policy.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.runner import sharedcpu
from bench.runner.sharedcpu import alone_and_shared, spinner

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads process states from /proc"
)


def state(pid: int) -> str:
    """The process's state letter (R running, S sleeping, T stopped, Z zombie), or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_the_ratio_is_shared_over_alone_timed_in_turns_in_one_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each timing sees the spinner's state at that moment: paused (T) for "alone", spinning for
    "shared", taking turns; the clock is replaced so the ratio's arithmetic is exact."""
    seen: list[str] = []
    with spinner() as spin:

        def clock(work: object) -> float:
            seen.append(state(spin.proc.pid))
            return {"T": 2.0}.get(seen[-1], 5.0)

        monkeypatch.setattr(sharedcpu, "timed", clock)
        warmups: list[str] = []
        result = alone_and_shared(lambda: warmups.append(state(spin.proc.pid)), spin, repeats=3)
        assert state(spin.proc.pid) == "T"  # paused again after the last shared timing
    assert warmups == ["T"]  # the untimed warm-up ran alone
    # Resumed means not stopped: running, sleeping, or in a disk wait (D) on a loaded machine.
    assert seen[0::2] == ["T"] * 3 and all(s in "RSD" for s in seen[1::2]), seen
    assert result == {"alone_s": 2.0, "shared_s": 5.0, "ratio": 2.5}


def test_each_side_keeps_its_median_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([1.0, 9.0, 3.0, 4.0, 2.0, 5.0])  # alone 1, 3, 2; shared 9, 4, 5
    monkeypatch.setattr(sharedcpu, "timed", lambda work: next(times))
    with spinner() as spin:
        result = alone_and_shared(lambda: None, spin, repeats=3)
    assert result == {"alone_s": 2.0, "shared_s": 5.0, "ratio": 2.5}


@pytest.mark.parametrize(("fail_at", "states"), [(1, "T"), (3, "RSD")])
def test_the_spinner_is_stopped_even_on_error(fail_at: int, states: str) -> None:
    """A workload that fails while the spinner is paused (the warm-up, call 1) or spinning (the
    first shared timing, call 3) still leaves no spinner behind."""
    calls: list[str] = []
    with pytest.raises(RuntimeError), spinner() as spin:

        def broken() -> None:
            calls.append(state(spin.proc.pid))
            if len(calls) == fail_at:
                raise RuntimeError("the workload failed")

        alone_and_shared(broken, spin, repeats=2)
    assert len(calls) == fail_at and calls[-1] in states, calls
    assert spin.proc.returncode == -signal.SIGKILL and state(spin.proc.pid) == "gone"


def test_the_spinner_exits_when_the_measurement_is_killed() -> None:
    """A measurement killed outright runs no cleanup; its spinner notices the lost parent."""
    code = (
        "import os, signal\n"
        "from bench.runner.sharedcpu import spinner\n"
        "with spinner() as spin:\n"
        "    print(spin.proc.pid, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    parent.wait()
    assert parent.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 20
    while state(pid) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state(pid) in ("gone", "Z")  # exited (a zombie until its new parent reaps it)


def test_each_setting_runs_in_its_own_subprocess_with_its_environment(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's threads and wait policy are what each subprocess read back, so a setting
    that did not reach OpenMP's environment would show; the tried grid is narrowed to keep the
    test short (one thread, the card's split, two policies: two subprocesses)."""
    quick = sharedcpu.QUICK | {
        "batch": 8,
        "steps": 1,
        "threads": (1,),
        "wait_policies": (None, "passive"),
        "unet_batches": (None,),
    }
    monkeypatch.setattr("bench.cli.perf.SHARED_QUICK", quick)
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")  # each setting sets or removes its own
    out = tmp_path / "shared-cpu.md"
    argv = ["perf", "--shared-cpu", "--quick", "--models", "tiny-8", "--out", str(out)]
    assert main(argv) == 0
    table = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line[:1] == "|"]
    rows = [cells for cells in table if cells[0].strip() == "1"]
    cells = sorted((r[1].strip(), r[2].strip()) for r in rows)
    assert cells == [("passive", "8 (card's)"), ("unset", "8 (card's)")]
    for row in rows:
        alone, shared, ratio = float(row[3]), float(row[4]), float(row[5].strip(" *×"))
        assert ratio == pytest.approx(shared / alone, rel=0.02)
    assert "`tiny-8`" in out.read_text() and "beside the spinner" in out.read_text()


def test_a_wrong_model_is_one_line_before_any_subprocess(capsys: pytest.CaptureFixture) -> None:
    from tests.test_faults import one_error_line

    assert main(["perf", "--shared-cpu", "--quick", "--models", "no-such-model"]) == 2
    assert "no-such-model" in one_error_line(capsys)
