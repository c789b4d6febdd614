"""The front door and the pages it links: the worked examples of docs/extending.md ("Add an
attack", "Add a model") run as written; the README's commands, the commands page's flags, the
layout table and every link are checked against the code.

The code blocks are taken from the pages themselves, so a page and its test cannot drift apart.
HOME points into the test's temporary folder, so ``~/my-bench`` is a folder outside the
repository. The one liberty taken: the test world's member sets are tiny, so ``--scale 64``
becomes ``--scale 8`` and the example UNet samples 8px images instead of 16px.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import shlex
from pathlib import Path

import pytest

from bench.cli import main
from bench.utils.paths import REPO_ROOT, reports_dir

WORLD = {"--scale 64": "--scale 8", "sample_size=16": "sample_size=8"}


def section(page: str, title: str) -> str:
    """The text of the section ``## title`` of a page (a path from the repository root)."""
    return (REPO_ROOT / page).read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(title: str) -> list[tuple[str, str]]:
    """(language, text) of each fenced block in docs/extending.md's section ``## title``."""
    body = section("docs/extending.md", title)
    for old, new in WORLD.items():
        body = body.replace(old, new)
    return re.findall(r"```(\w+)\n(.*?)```", body, re.S)


def write_files(found: list[tuple[str, str]]) -> None:
    """Blocks whose first line is ``# ~/path`` are files the reader writes there."""
    for _, text in found:
        first, _, rest = text.partition("\n")
        if first.startswith("# ~/"):
            path = Path(first[2:]).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rest)


def run_shell(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each line: ``export VAR=value`` or ``[VAR=value …] python -m bench ARGS``, as bash would."""
    for line in filter(None, text.splitlines()):
        words = [os.path.expanduser(w) for w in shlex.split(line)]
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            monkeypatch.setenv(name, os.path.expanduser(value))
            continue
        with monkeypatch.context() as env:
            while "=" in words[0]:
                name, _, value = words.pop(0).partition("=")
                env.setenv(name, os.path.expanduser(value))
            assert words[:3] == ["python", "-m", "bench"], line
            assert main(words[3:]) == 0, line


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    return tmp_path / "user"


def test_add_an_attack_runs_as_written(
    trained: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks("Add an attack")
    write_files(found)
    assert (home / "my-bench" / "attacks" / "few-step.toml").is_file()
    assert not (home / "my-bench").is_relative_to(REPO_ROOT)
    (shell,) = [text for lang, text in found if lang == "bash"]
    run_shell(shell, monkeypatch)
    records = sorted(Path(os.environ["BENCH_HOME"]).glob("results/runs/few-step/tiny-8/*.json"))
    runs = {
        json.loads(p.read_text())["params"]["steps"]: json.loads(p.read_text()) for p in records
    }
    assert set(runs) == {10, 5}
    assert runs[5]["cost"]["unet_evaluations"] == 5 * runs[5]["budget"]
    # Without an edit to the suite, its diagnostics reach the leaderboard and CI floors them.
    assert main(["run", "--attack", "few-step", "--scale", "8", "--publish"]) == 0
    floors = ["floors", "--attack", "few-step", "--model", "tiny-8", "--seeds", "0,1"]
    assert main([*floors, "--budget", "8"]) == 0
    spec = json.loads((reports_dir() / "floors" / "few-step-tiny-8.json").read_text())
    assert "info.step_share" in spec["metrics"] and spec["mutations"] == {}
    assert main(["report"]) == 0
    board = (reports_dir() / "leaderboard.md").read_text()
    section = board.split("## Few-step sampling\n", 1)[1].split("\n## ", 1)[0]
    assert "steps used %" in section and "| few-step " in section
    assert "info.step_share ≥" in board.split("## CI floors and mutations", 1)[1]


def test_add_a_model_runs_as_written(
    world: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks("Add a model")
    (script,) = [text for lang, text in found if lang == "python"]
    (home / "save_my_ddpm.py").write_text(script)
    runpy.run_path(str(home / "save_my_ddpm.py"))
    (shell,) = [text for lang, text in found if lang == "bash"]
    run_shell(shell, monkeypatch)
    board = (home / "my-results" / "leaderboard.md").read_text()
    assert "## External models" in board and "my-ddpm-" in board.split("## External models")[1]
    # The import went into the user's own card folder, and the main job's scale is unchanged.
    assert (home / "my-cards" / "models" / "my-ddpm-64.toml").is_file()
    assert not (world / "models" / "my-ddpm-64.toml").exists()
    assert list((home / "my-results" / "runs" / "carlini" / "my-ddpm-64").glob("*.json"))
    from bench.cards import find_model

    assert find_model("8", "cpu", "unconditional").name == "tiny-8"


# --- the front door and the pages it links --------------------------------------------------------

SCREEN = 60  # lines: the README is the newcomer's path only; the reference lives in docs/


def fenced(page: str, lang: str = "bash") -> list[str]:
    """Every command line of the page's fenced ``lang`` blocks."""
    text = (REPO_ROOT / page).read_text()
    return [line for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S) for line in b.split("\n")]


def test_the_front_door_fits_on_a_screen_and_runs_the_main_job_and_the_tests() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= SCREEN
    lines = fenced("README.md")
    (job,) = [line for line in lines if "-m bench run" in line]
    assert job.endswith("BENCH_DATA=/path/to/celeba python -m bench run --attack side --scale 64")
    # The test command sets BENCH_DATA, so a newcomer runs the real-data tests, not skips them.
    (tests,) = [line for line in lines if "pytest" in line]
    assert tests.endswith("BENCH_DATA=/path/to/celeba pytest -q") and "'.[test]'" in tests


def test_what_the_readme_says_the_design_example_prints_is_what_it_prints() -> None:
    """`--scale 5k` attacks a model that memorises nothing, and its summary says so in the words
    the README quotes; the main job's model copies most of its members."""
    from bench.cards import find_model
    from bench.report.summary import memorisation_line

    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    design = find_model("5k", "cpu", "unconditional")
    assert f"--scale 5k`, the design's example, attacks `{design.name}`" in readme
    assert design.trained["memorised_fraction"] == 0 and design.trained["unique_hits"] == 0
    line = memorisation_line({"model": design.name})
    for quoted in re.findall(r'\("(measured memorised fraction [^"]*)"\)', readme)[0].split(" … "):
        assert quoted in line
    main_job = find_model("64", "cpu", "unconditional")
    assert f"runs SIDE against `{main_job.name}`" in readme
    hits, fraction = main_job.trained["unique_hits"], main_job.trained["memorised_fraction"]
    assert f"{round(100 * fraction)}% of 256 unguided samples as copies, {hits} of the 64" in readme


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def test_every_link_of_the_front_door_and_its_pages_resolves() -> None:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.is_file(), f"{page.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.*)$", dest.read_text(), re.M)
                assert anchor in {slug(h) for h in headings}, f"{page.name}: {target}"
            checked += 1
    assert checked > 20


def parser_of(words: list[str]) -> argparse.ArgumentParser:
    """The argparse parser of ``bench WORDS`` (a verb, or a verb and its sub-verb)."""
    from bench.cli import build_parser

    parser = build_parser()
    for word in words:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[word]
    return parser


def test_the_commands_page_has_every_verb_and_only_real_flags() -> None:
    """Each synopsis in docs/commands.md names flags its parser accepts (the page once offered
    `evaluate --sscd FILE`, a flag that never existed), and every verb has its section."""
    verbs = set()
    for line in fenced("docs/commands.md", ""):
        if not line.startswith("python -m bench "):
            continue
        words = line.split()[3:]
        verb = words[:2] if words[0] in ("zoo", "data", "mia") else words[:1]
        verbs.add(verb[0])
        known = {o for a in parser_of(verb)._actions for o in a.option_strings}
        flags = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", line))
        assert flags <= known, f"{' '.join(verb)}: {sorted(flags - known)}"
    (sub,) = [a for a in parser_of([])._actions if isinstance(a, argparse._SubParsersAction)]
    assert verbs == set(sub.choices)


def test_the_layout_table_names_every_package() -> None:
    table = section("docs/architecture.md", "Layout")
    packages = sorted(p.parent.name for p in (REPO_ROOT / "bench").glob("*/__init__.py"))
    for name in packages:
        assert f"| `bench/{name}/` |" in table, name
