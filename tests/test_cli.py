"""The command line: one-line errors with exit 2, and the data and zoo listings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main


def test_data_check_reports_scales(world: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert "images: 48 decodable, 89×109 px" in out
    assert "scale    8: ok" in out and "scale  100: needs 100 member images" in out


def test_missing_root_is_one_line_exit_2(
    world: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("BENCH_DATA")
    assert main(["data", "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no CelebA root given")


def test_corrupt_image_fails_data_check(
    world: Path, celeba_root: Path, capsys: pytest.CaptureFixture
) -> None:
    (celeba_root / "img_align_celeba" / "000007.jpg").write_bytes(b"garbage")
    assert main(["data", "check"]) == 2
    assert "000007.jpg is corrupt" in capsys.readouterr().err


def test_zoo_list_json(world: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {
        "name",
        "profile",
        "scale",
        "conditioning",
        "canaries",
        "status",
        "images_seen",
        "memorised_fraction",
        "unique_hits",
    }
    assert all(keys <= set(r) for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert by_name["tiny-24-canary"]["canaries"] == "24"
    assert by_name["tiny-8-caption"]["conditioning"] == "caption"
    assert {r["status"] for r in rows} == {"missing"}


def test_zoo_trains_and_lists_one_profile(world: Path, capsys: pytest.CaptureFixture) -> None:
    """`zoo train --profile P` trains every card of P still without a checkpoint, in scale order,
    and skips the trained ones when run again; `zoo list --profile P` shows only P's cards."""
    from tests.conftest import model_card_text

    for name, scale in (("wide-24", "24"), ("wide-8", "8")):
        text = model_card_text(name, scale).replace('profile = "cpu"', 'profile = "cpu32"')
        (world / "models" / f"{name}.toml").write_text(text)
    assert main(["zoo", "train", "--profile", "cpu32"]) == 0
    out = capsys.readouterr().out
    assert "2 cpu32 card(s) to train: wide-8, wide-24" in out
    assert main(["zoo", "train", "--profile", "cpu32"]) == 0
    assert "0 cpu32 card(s) to train" in capsys.readouterr().out
    assert main(["zoo", "list", "--json", "--profile", "cpu32"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["status"]) for r in rows] == [
        ("wide-8", "trained"),
        ("wide-24", "trained"),
    ]
    assert main(["zoo", "train", "tiny-8", "--profile", "cpu32"]) == 2
    assert main(["zoo", "list", "--profile", "nope"]) == 2
    assert "no zoo card has profile 'nope'; valid: cpu, cpu32" in capsys.readouterr().err


def test_unknown_model_lists_valid_names(world: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["zoo", "train", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'; valid: tiny-24, tiny-24-canary, tiny-8, tiny-8-caption" in err


def test_a_reader_that_closes_the_pipe_is_not_an_error() -> None:
    """`bench zoo list | grep -q NAME` under `set -o pipefail` (CI) must not fail when grep stops
    reading at its first match."""
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "bench", "zoo", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # the reader is gone before the first write
    err = child.stderr.read().decode()
    assert child.wait() == 0 and "BrokenPipe" not in err, err
