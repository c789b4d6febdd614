"""Bad input a new user gave: one line on stderr, exit 2, and nothing written or changed."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from tests.conftest import cell_record

RUN = ["run", "--attack", "side", "--scale", "8", "--budget", "8"]


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def written() -> list[Path]:
    """Every file under BENCH_HOME and the reports folder: records, shards, caches."""
    roots = [Path(os.environ["BENCH_HOME"]), Path(os.environ["BENCH_REPORTS"])]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_lambda_is_one_line(
    world: Path, capsys: pytest.CaptureFixture, value: str
) -> None:
    before = written()
    assert main([*RUN, f"--lambda={value}"]) == 2
    line = one_error_line(capsys)
    assert "--lambda" in line and "finite" in line
    assert written() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--attack", "side", "--scale", "8", "--values", "1,nan"], "must be finite"),
        (["run", "--attack", "side", "--scale", "8", "--set", "clf_steps=-3"], "must be ≥ 1"),
    ],
)
def test_parameter_values_are_checked_by_the_card_before_any_work(
    world: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    """Sweep values and --set are typed by the attack card, so the card checks them."""
    before = written()
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert written() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--attack", "side", "--scale", "8", "--seed", "abc"], "expected an integer seed"),
        (["run", "--attack", "side", "--scale", "8", "--seed=-1"], "the seed must be in [0, "),
        (["run", "--attack", "side", "--scale", "8", "--budget", "0"], "must be ≥ 1, got 0"),
        (["run", "--attack", "side", "--scale", "8", "--budget=-5"], "must be ≥ 1, got -5"),
        (["run", "--attack", "side", "--scale", "8", "--budget", "1.5"], "a positive integer"),
        (["grid", "--seeds", "0,x"], "comma-separated integer seeds"),
        (["floors", "--attack", "side", "--model", "tiny-8", "--budget", "0"], "must be ≥ 1"),
        (["zoo", "train", "tiny-8", "--max-steps", "0"], "must be ≥ 1"),
        (["nope"], "invalid choice: 'nope'"),
    ],
)
def test_argument_errors_are_one_line_with_a_pointer_to_help(
    world: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    before = written()
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert message in line and line.endswith("--help`"), line
    assert written() == before


@pytest.mark.parametrize(
    ("attack", "overrides", "message"),
    [
        ("side", {"guidance_scale": math.nan}, "guidance_scale must be finite, got nan"),
        ("side", {"guidance_scale": math.inf}, "guidance_scale must be finite, got inf"),
        ("side", {"guidance_scale": -1.0}, "guidance_scale must be ≥ 0, got -1"),
        ("side", {"tau": 2.0}, "tau must be in [-1, 1], got 2"),
        ("carlini", {"clique_k": 2.5}, "clique_k must be an integer, got 2.5"),
        ("carlini", {"clique_k": "3"}, "clique_k must be an integer, got '3'"),
        ("carlini", {"guidance_scale": 2.0}, "carlini has no parameter 'guidance_scale'"),
    ],
)
def test_bad_parameters_fail_before_any_work(
    world: Path, attack: str, overrides: dict, message: str
) -> None:
    before = written()
    with pytest.raises(BenchError, match=message.replace("[", r"\[")):
        cell_record(attack, "8", budget=8, overrides=overrides)
    assert written() == before


def test_integral_overrides_take_the_card_type(world: Path) -> None:
    from bench.cards import attack_card
    from bench.cards.validate import attack_params

    params = attack_params(attack_card("side"), "cpu", {"guidance_scale": 5, "clf_steps": 10.0})
    assert params["guidance_scale"] == 5.0 and isinstance(params["guidance_scale"], float)
    assert params["clf_steps"] == 10 and isinstance(params["clf_steps"], int)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cpu = nan", "sets params.guidance_scale.cpu to a non-finite number"),
        ("cpu = inf", "sets params.guidance_scale.cpu to a non-finite number"),
        ("cpu = -2.0", "side parameter guidance_scale must be ≥ 0, got -2"),
    ],
)
def test_bad_card_values_are_one_line(
    world: Path, capsys: pytest.CaptureFixture, line: str, message: str
) -> None:
    card = world / "attacks" / "side.toml"
    text, edits = re.subn(r"^cpu = [0-9.]+$", line, card.read_text(), count=1, flags=re.M)
    assert edits == 1  # guidance_scale's cpu value (the first parameter), whatever it ships
    card.write_text(text)
    assert main(RUN) == 2
    assert message in one_error_line(capsys)


def test_bench_home_that_is_a_file(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("BENCH_HOME", str(home))
    assert main(RUN) == 2
    assert f"BENCH_HOME {home} is a file, not a folder" in one_error_line(capsys)
    assert home.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("variable", "argv"),
    [("BENCH_HOME", RUN), ("BENCH_CARDS_BASE", RUN), ("BENCH_REPORTS", ["report"])],
)
def test_an_empty_folder_variable_is_one_line_and_writes_nothing_here(
    world: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    variable: str,
    argv: list[str],
) -> None:
    """``BENCH_HOME=`` is ``Path("")``, the current folder: it wrote arrays/ pool/ results/ runs/
    wherever the command ran."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv(variable, "")
    assert main(argv) == 2
    assert f"{variable} is set but empty" in one_error_line(capsys)
    assert not any(here.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grid", "--budget", "60000"], "above the suite's limit of 51,200"),
        (["grid", "--attacks", ""], "--attacks '' has an empty name"),
        (["grid", "--attacks", "carlini,"], "has an empty name"),
        (["grid", "--attacks", "bogus"], "--attacks: unknown 'bogus'; valid: carlini"),
        (["grid", "--models", "bogus"], "--models: unknown 'bogus'; valid: tiny-24"),
    ],
)
def test_a_grid_subset_or_budget_that_cannot_be_meant_is_one_line(
    world: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    """``--attacks ''`` ran the whole grid, ``--models bogus`` nothing (exit 0, silent), and a
    budget above the cap started a 3.9-day run without ``--force``."""
    before = written()
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert written() == before


def test_bench_home_below_a_file(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "file" / "home"))
    assert main(RUN) == 2
    assert "cannot be created (Not a directory)" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_bench_home(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    home = tmp_path / "read-only"
    home.mkdir(mode=0o555)
    monkeypatch.setenv("BENCH_HOME", str(home))
    try:
        assert main(RUN) == 2
        assert f"BENCH_HOME {home} is not writable" in one_error_line(capsys)
        assert not any(home.iterdir())
    finally:
        home.chmod(0o755)


def test_unusable_out_folder(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out-file"
    out.write_text("")
    assert main([*RUN, "--out", str(out)]) == 2
    assert f"the --out folder {out} is a file, not a folder" in one_error_line(capsys)


def test_a_set_integer_is_parsed_exactly_and_overflow_refused(
    world: Path, capsys: pytest.CaptureFixture
) -> None:
    """Through float, ``clique_k=99999999999999999999999999`` became 100000000000000004764729344."""
    from bench.cards import attack_card
    from bench.cards.overrides import parse_sets

    card = attack_card("carlini")
    assert parse_sets(card, "cpu", ["clique_k=9007199254740993"]) == {"clique_k": 2**53 + 1}
    assert parse_sets(card, "cpu", ["clique_k=1e3"]) == {"clique_k": 1000}
    before = written()
    argv = ["run", "--attack", "carlini", "--scale", "8", "--set"]
    assert main([*argv, "clique_k=99999999999999999999999999"]) == 2
    assert "below 2**63 in size, got 99999999999999999999999999" in one_error_line(capsys)
    assert written() == before
