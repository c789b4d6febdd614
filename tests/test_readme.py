"""The README's worked examples ("Add an attack", "Add a model"), run as written.

The code blocks are taken from the README itself, so the page and the test cannot drift apart.
HOME points into the test's temporary folder, so ``~/my-bench`` is a folder outside the
repository. The one liberty taken: the test world's member sets are tiny, so ``--scale 64``
becomes ``--scale 8`` and the example UNet samples 8px images instead of 16px.
"""

from __future__ import annotations

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


def blocks(title: str) -> list[tuple[str, str]]:
    """(language, text) of each fenced block in the README section ``## title``."""
    readme = (REPO_ROOT / "README.md").read_text()
    body = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
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
    assert (world / "models" / "my-ddpm-64.toml").is_file()
    assert list((home / "my-results" / "runs" / "carlini" / "my-ddpm-64").glob("*.json"))
