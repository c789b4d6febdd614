"""`bench report` and its galleries are made in a staging folder and moved into place together
(issue #33 §3): a failure midway leaves the earlier report, plots and galleries as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.utils.paths import bench_home, reports_dir
from tests.test_faults import one_error_line

# At the card's shared N_G (16), so the leaderboard plots the run.
CARLINI_16 = ["run", "--attack", "carlini", "--scale", "8", "--budget", "16"]


def _fail(*_: object, **__: object) -> None:
    raise BenchError("the disk went away")


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_report_that_fails_midway_leaves_the_earlier_one(
    trained: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main([*CARLINI_16, "--publish"]) == 0
    assert main(["report"]) == 0
    earlier = {p: b for p, b in _files(reports_dir()).items() if p.suffix in (".md", ".png")}
    assert reports_dir() / "leaderboard.png" in earlier
    # A second record changes the plot; the leaderboard's text is the step that fails.
    assert main([*CARLINI_16, "--seed", "1", "--publish"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("bench.report.leaderboard.write_text_atomic", _fail)
    assert main(["report"]) == 2
    assert "the disk went away" in one_error_line(capsys)
    now = {p: b for p, b in _files(reports_dir()).items() if p.suffix in (".md", ".png")}
    assert now == earlier
    assert not list(reports_dir().glob(".staged-*"))


def test_galleries_that_fail_midway_leave_the_earlier_ones(
    trained: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.report import gallery

    for seed in ("0", "1"):
        assert main([*CARLINI_16, "--seed", seed, "--publish"]) == 0
    assert main(["report", "--galleries"]) == 0
    folder = bench_home() / "galleries"
    made = sorted(folder.glob("*.png"))
    assert len(made) == 2
    made[0].write_bytes(b"an earlier gallery")
    earlier = _files(folder)
    real, calls = gallery.write_gallery, []

    def second_fails(*args: object, **kwargs: object) -> Path | None:
        calls.append(1)
        if len(calls) == 2:
            _fail()
        return real(*args, **kwargs)

    monkeypatch.setattr("bench.cli.report.write_gallery", second_fails)
    capsys.readouterr()
    assert main(["report", "--galleries"]) == 2
    assert "the disk went away" in one_error_line(capsys)
    assert _files(folder) == earlier and len(calls) == 2
    assert not list(folder.glob(".staged-*"))


def test_a_gallery_never_deletes_shards_that_do_not_verify(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """A shard written before shards carried a digest (or altered since) makes no gallery and
    stays where it is: the run's cell remakes it, a picture does not delete it."""
    import json

    import numpy as np

    assert main([*CARLINI_16, "--publish"]) == 0
    record = json.loads(next((reports_dir() / "runs").rglob("*.json")).read_text())
    shard = bench_home() / record["outputs"] / "shard-00000.npz"
    with np.load(shard) as z:
        legacy = {k: z[k] for k in z.files if k != "digest"}
    np.savez(shard, **legacy)
    before = shard.read_bytes()
    capsys.readouterr()
    assert main(["report", "--galleries"]) == 0
    assert "gallery: no verified outputs of" in capsys.readouterr().out
    assert shard.read_bytes() == before
