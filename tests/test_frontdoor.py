"""The front door (issue 18): what a researcher meets first, from install to the first summary.

One test (or a small group) per finding of the issue: an installed wheel finds its cards, an
import never takes over a scale, records of different cells never share a path, the plots fit a
page, the summary shows the numbers beside their references, a user module's real error is
reported, the command line can be discovered, and the repository's conventions are in place.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from bench.cli import build_parser, main, program_name
from bench.utils.paths import REPO_ROOT
from tests.test_external import save_pretrained


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# --- 1. a non-editable install finds its cards ---------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel, as `pip install .` would build it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (path,) = out.glob("memorization_bench-*.whl")
    return path


@pytest.mark.slow
def test_an_installed_wheel_finds_its_cards_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "bench/_shipped/attacks/carlini.toml",
        "bench/_shipped/models/celeba-64-cpu.toml",
        "bench/_shipped/models/checkpoints/celeba-64-cpu.safetensors",
        "bench/_shipped/datasets/celeba.toml",
        "bench/_shipped/datasets/celeba/members-64.txt",
        "bench/_shipped/datasets/celeba/membership-heldout.txt",
        "bench/_shipped/membership/sima.toml",
    ):
        assert shipped in names, shipped
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), BENCH_HOME=str(tmp_path / "home"))
    code = (
        "import bench, json\n"
        "from bench.cards import attack_names, model_card\n"
        "from bench.records import report_root\n"
        "from bench.zoo.load import verified_digest\n"
        "print(json.dumps([bench.__file__, attack_names(), "
        "verified_digest(model_card('celeba-64-cpu')), str(report_root())]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    where, attacks, digest, reports = json.loads(done.stdout)
    assert where.startswith(str(site)) and "carlini" in attacks and len(digest) == 64
    # `bench report` outside a clone reports on the user's own runs, not into site-packages.
    assert reports == str(tmp_path / "home" / "results")
    # And `zoo import` refuses to write into the installed package.
    bad = subprocess.run(
        [sys.executable, "-m", "bench", "zoo", "import", str(tmp_path), "--name", "x"]
        + ["--scale", "64"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "pass --into CARDS" in bad.stderr, bad.stderr


# --- 3. an imported model never takes over a scale ---------------------------------------------


def test_an_imported_card_never_changes_what_a_scale_means(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.cards import attack_card, find_model
    from bench.runner.spec import zoo_model

    folder = save_pretrained(tmp_path / "my-ddpm")
    assert main(["zoo", "import", str(folder), "--name", "mine-8", "--scale", "8"]) == 0
    assert "--model mine-8" in capsys.readouterr().out
    # The README's main job still resolves to the zoo's own model; the import is named.
    assert find_model("8", "cpu", "unconditional").name == "tiny-8"
    assert zoo_model(attack_card("carlini"), None, "cpu", "mine-8").name == "mine-8"


def test_an_ambiguous_scale_names_every_card(world: Path) -> None:
    from bench.cards import find_model
    from bench.errors import BenchError

    text = (world / "models" / "tiny-8.toml").read_text()
    for name in ("tiny-8-b", "tiny-8-c"):
        (world / "models" / f"{name}.toml").write_text(
            text.replace('name = "tiny-8"', f'name = "{name}"')
        )
    with pytest.raises(BenchError) as err:
        find_model("8", "cpu", "unconditional")
    message = str(err.value)
    assert "served by 3 model cards" in message and "two" not in message
    assert all(n in message for n in ("tiny-8 (", "tiny-8-b (", "tiny-8-c ("))


# --- 4. records of different cells never share a path ------------------------------------------


def test_a_folder_scored_against_two_member_sets_keeps_both_records(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.data.manifests import read_manifest

    folder = save_pretrained(tmp_path / "my-ddpm")
    listed = read_manifest(world / "datasets" / "celeba" / "members-8.txt")[:5]
    manifest = tmp_path / "members.txt"
    manifest.write_text("\n".join(listed) + "\n")
    out = tmp_path / "results"
    run = ["run", "--attack", "carlini", "--budget", "8", "--model-path", str(folder)]
    run += ["--steps", "2", "--out", str(out)]
    assert main([*run, "--scale", "8", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # Say its outputs took a minute and a half to make (a tiny model takes milliseconds).
    (wall,) = Path(os.environ["BENCH_HOME"]).rglob(f"{first['outputs']}/wall.json")
    wall.write_text(json.dumps({"seconds": 90.0}))
    assert main([*run, "--members", str(manifest)]) == 0
    second = capsys.readouterr().out
    records = sorted(out.rglob("runs/**/*.json"))
    assert len(records) == 2, records
    scales = sorted(json.loads(p.read_text())["scale"] for p in records)
    assert scales == ["5-listed", "8"]
    # The second run reuses the first's outputs (the attack never sees members), and its
    # summary reports what they cost, not "0.0 s wall".
    assert float(re.search(r"([\d.]+) s wall", second).group(1)) >= 90.0


# --- 5. plots a page can show -------------------------------------------------------------------


def _frame(models: list[tuple[str, str, int]], budgets: tuple[int, ...] = (512,)) -> pd.DataFrame:
    rows = []
    for model, scale, members in models:
        for attack in ("carlini", "side", "side-ti"):
            for seed in range(3):
                for budget in budgets:
                    row = {"model": model, "scale": scale, "members": members, "budget": budget}
                    row.update(attack=attack, seed=seed, stale="", evals=budget * 50)
                    for band in ("high", "mid", "low"):
                        row[f"ums_{band}"] = 0.01 * (seed + 1)
                        row[f"nm_hit_{band}"] = 0.001
                    row["distinct_high"] = seed
                    row["chance_high"] = 0.001 * members
                    rows.append(row)
    return pd.DataFrame(rows)


ZOO = [
    ("celeba-5k-cpu", "5k", 5000),
    ("celeba-64-cpu", "64", 64),
    ("celeba-1k-ladder-cpu", "1k", 1000),
    ("celeba-128-cpu", "128", 128),
]


def test_the_plots_fit_a_page_with_models_in_scale_order(tmp_path: Path) -> None:
    from bench.report.curves import model_order
    from bench.report.plots import plot, plot_curves

    df = _frame(ZOO)
    assert model_order(df) == [
        "celeba-64-cpu",
        "celeba-128-cpu",
        "celeba-1k-ladder-cpu",
        "celeba-5k-cpu",
    ]
    plot(df, tmp_path / "leaderboard.png")
    nine = [(f"celeba-{s}-v{i}-cpu", s, n) for i in range(3) for _, s, n in ZOO[:3]]
    plot_curves(_frame(nine, (32, 64, 128)), tmp_path / "curves.png")
    for name in ("leaderboard.png", "curves.png"):
        width, height = Image.open(tmp_path / name).size
        assert width <= 1400 and height <= 1200, (name, width, height)


def test_the_committed_plots_fit_a_page() -> None:
    for name in ("leaderboard.png", "curves.png"):
        path = REPO_ROOT / "reports" / name
        if path.is_file():
            width, height = Image.open(path).size
            assert width <= 1400 and height <= 1200, (name, width, height)


# --- 6. the summary answers ---------------------------------------------------------------------


def test_the_summary_shows_memorisation_ceiling_and_chance(trained: Path) -> None:
    from bench.report.frame import member_count, pool_size
    from bench.report.summary import summary
    from tests.conftest import cell_record

    rec = cell_record("carlini", "8", budget=16)
    text = summary(rec, Path("x.json"))
    assert "attacked model: tiny-8, measured memorised fraction" in text
    assert "UMS ceiling %" in text and re.search(r"\|\s+50(\.00)?\s+\|", text)  # 8 / N_G 16
    # Chance is the non-members' count scaled to the member set, as the leaderboard scales it.
    scale = member_count(rec) / pool_size(rec["dataset"])
    for d, n in rec["metrics"]["extracted"].items():
        chance = scale * rec["metrics"]["nonmember"]["extracted"][d]
        assert f"δ={d}: {n} (chance {chance:.0f})" in text
    assert "calibrated: " in text and text.count("(chance ") >= 5


def test_side_names_its_phases_in_its_progress_bars(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.attacks.classifier
    import bench.zoo.sampling
    from tests.conftest import FAST_SIDE, cell_record

    seen: list[str] = []

    def recording(tqdm):
        def wrapper(*args, **kwargs):
            seen.append(kwargs.get("desc", ""))
            return tqdm(*args, **kwargs)

        return wrapper

    for module in (bench.zoo.sampling, bench.attacks.classifier):
        monkeypatch.setattr(module, "tqdm", recording(module.tqdm))
    cell_record("side", "8", budget=8, overrides=FAST_SIDE, progress=True)
    assert {"synthetic set", "classifier training", "guided sampling", "held-out check"} <= set(
        seen
    )
    assert "sampling" not in seen


# --- 7. a user module's own error ---------------------------------------------------------------


def test_a_broken_import_inside_an_attack_module_is_reported_as_itself(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    mine = tmp_path / "mine"
    (mine / "attacks").mkdir(parents=True)
    (mine / "few_step2.py").write_text("import not_a_module_anywhere\n\nclass FewStep: ...\n")
    card = (REPO_ROOT / "attacks" / "carlini.toml").read_text()
    card = re.sub(r'^name = ".*"', 'name = "few-step2"', card, flags=re.M)
    card = re.sub(
        r'^implementation = ".*"', 'implementation = "few_step2:FewStep"', card, flags=re.M
    )
    (mine / "attacks" / "few-step2.toml").write_text(card)
    monkeypatch.setenv("BENCH_CARDS", str(mine))
    assert main(["run", "--attack", "few-step2", "--scale", "8"]) == 2
    line = one_error_line(capsys)
    assert "importing few_step2 failed" in line and "few_step2.py, line 1" in line
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in line
    assert "does not exist" not in line
    # A module that really is missing still says so.
    (mine / "few_step2.py").unlink()
    assert main(["run", "--attack", "few-step2", "--scale", "8"]) == 2
    assert "no module few_step2 is installed or kept at" in one_error_line(capsys)


# --- 8. a command line that can be discovered ----------------------------------------------------


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_has_help() -> None:
    missing = [
        f"{p.prog} {a.dest}"
        for p in _parsers(build_parser())
        for a in p._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction) and not a.help
    ]
    assert missing == []


def test_bench_list(world: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["list", "attacks"]) == 0
    assert "| side " in capsys.readouterr().out
    assert main(["list", "models", "--json"]) == 0
    assert {r["model"] for r in json.loads(capsys.readouterr().out)} >= {"tiny-8", "tiny-24"}
    assert main(["list", "scales", "--json"]) == 0
    rows = {r["scale"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["8"]["--scale runs"] == "tiny-8 (cpu)"


def test_model_alone_names_the_cell(world: Path, capsys: pytest.CaptureFixture) -> None:
    from bench.cli.args import spec_from_args

    args = build_parser().parse_args(["run", "--attack", "carlini", "--model", "tiny-24-canary"])
    spec = spec_from_args(args)
    assert str(spec.model) == "tiny-24-canary" and spec.profile == "cpu"
    assert main(["run", "--attack", "carlini"]) == 2
    assert "name the model: --scale S" in one_error_line(capsys)


def test_report_takes_a_results_folder(trained: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    run = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--out", str(out)]
    assert main(run) == 0
    capsys.readouterr()
    assert main(["report", "--results", str(out)]) == 0
    assert "| carlini " in (out / "leaderboard.md").read_text()
    assert main(["report", "--results", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder of run records" in one_error_line(capsys)


def test_the_console_script_names_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert program_name("/x/bench/__main__.py") == "python -m bench"
    monkeypatch.setattr(sys, "argv", ["/venv/bin/bench", "--help"])
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: bench ")


# --- 9. the Python API, as docs/extending.md shows it ---------------------------------------------


def test_the_docs_api_example_runs(trained: Path, tmp_path: Path, monkeypatch) -> None:
    from tests.test_readme import section

    (code,) = re.findall(r"```python\n(.*?)```", section("docs/extending.md", "Python API"), re.S)
    code = code.replace("celeba-64-cpu", "tiny-8").replace('"64"', '"8"')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "docs/extending.md#python-api", "exec"), namespace)
    assert namespace["record"]["model"] == "tiny-8"
    assert namespace["result"]["per_image"] and "ums" in namespace["metrics"]


def test_the_public_api_is_what_the_docstring_lists() -> None:
    import bench

    for name in bench.__all__:
        assert getattr(bench, name) is not None
        assert name in bench.__doc__ or name.startswith("__")


# --- 10. conventions ------------------------------------------------------------------------------


def test_the_repository_has_its_conventions_and_no_stale_pointers() -> None:
    from bench.records import SCHEMA

    assert "Apache License" in (REPO_ROOT / "LICENSE").read_text()
    citation = (REPO_ROOT / "CITATION.cff").read_text()
    assert "cff-version" in citation and "2301.13188" in citation and "2410.02467" in citation
    assert (REPO_ROOT / "CHANGELOG.md").is_file() and (REPO_ROOT / "CONTRIBUTING.md").is_file()
    assert f"currently {SCHEMA}" in (REPO_ROOT / "docs" / "reference.md").read_text()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.split()
    for name in tracked:
        path = REPO_ROOT / name
        if path.suffix in (".py", ".md", ".toml") and path.name != "test_frontdoor.py":
            assert "RESEARCH.md" not in path.read_text(), name
    background = (REPO_ROOT / "docs" / "background.md").read_text()
    assert "CIFAR-10" in background and "32×32" in background
