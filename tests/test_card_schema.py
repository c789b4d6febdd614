"""Cards are checked value by value against their schema (``bench.cards.cardfile``) when read:
a hand-edited card is one line naming the file, the field and what was expected, exit 2, and
nothing is written (issue #33 §3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cards import attack_card, attack_names, dataset_card, model_card, model_cards
from bench.cli import main
from tests.test_user_errors import RUN, one_error_line, written


def _top(text: str, line: str) -> str:
    """``text`` with ``line`` set at the top level (before the first table), replacing the key."""
    key = line.split("=")[0].strip()
    text, n = re.subn(rf"^{re.escape(key)} = .*$", line, text, count=1, flags=re.M)
    return (
        text
        if n
        else re.sub(r"^version = .*$", lambda m: f"{m[0]}\n{line}", text, count=1, flags=re.M)
    )


def _in_table(text: str, table: str, line: str) -> str:
    """``text`` with ``line`` replacing its key's line inside ``[table]``."""
    key = line.split("=")[0].strip()
    head = text.index(f"[{table}]\n")
    pattern = re.compile(rf"^{re.escape(key)} = .*$", re.M)
    found = pattern.search(text, head)
    assert found, f"no {key} in [{table}]"
    return text[: found.start()] + line + text[found.end() :]


# (card file, edit, what the one line must say); each was a traceback, or silently accepted,
# before the cards had a schema.
CASES = [
    ("attacks/side.toml", lambda t: _top(t, 'version = "x"'), "version is 'x'"),
    ("attacks/side.toml", lambda t: _top(t, "implementation = 5"), "implementation is 5"),
    (
        "attacks/side.toml",
        lambda t: _top(t, 'applies_to = "unconditional"'),
        "applies_to is 'unconditional': input should be a valid list",
    ),
    (
        "attacks/side.toml",
        lambda t: _in_table(t, "params.guidance_scale", 'min = "0"'),
        "params.guidance_scale.min is '0'",
    ),
    (
        "attacks/side.toml",
        lambda t: t.replace('[defaults_from]\ncpu32 = "cpu"\n', "").replace(
            "version = 6", "version = 6\ndefaults_from = 5"
        ),
        "defaults_from is 5: input should be a valid dictionary",
    ),
    (
        "attacks/side.toml",
        lambda t: _in_table(t, "params.n_syn", "cpu = [1, 2]"),
        "params.n_syn.cpu is [1, 2]",
    ),
    ("attacks/side.toml", lambda t: _top(t, "colour = 5"), "colour is 5: extra inputs"),
    ("models/tiny-8.toml", lambda t: _top(t, 'resolution = "8"'), "resolution is '8'"),
    ("models/tiny-8.toml", lambda t: _top(t, "version = 0"), "version is 0"),
    ("models/tiny-8.toml", lambda t: _top(t, 'conditioning = "text"'), "conditioning is 'text'"),
    ("models/tiny-8.toml", lambda t: _in_table(t, "training", 'lr = "x"'), "training.lr is 'x'"),
    (
        "models/tiny-8.toml",
        lambda t: _in_table(t, "scheduler", 'sampling_steps = "4"'),
        "scheduler.sampling_steps is '4'",
    ),
    ("datasets/celeba.toml", lambda t: _top(t, "crop = 5"), "crop is 5"),
    (
        "datasets/celeba.toml",
        lambda t: t.replace('"8" = { size = 8,', '"8" = { size = "8",'),
        "scales.8.size is '8'",
    ),
]


@pytest.mark.parametrize(("file", "edit", "message"), CASES, ids=[c[2][:30] for c in CASES])
def test_a_card_value_of_the_wrong_type_is_one_line_naming_file_and_field(
    world: Path, capsys: pytest.CaptureFixture, file: str, edit, message: str
) -> None:
    path = world / file
    path.write_text(edit(path.read_text()))
    before = written()
    # `bench run` reads the attack and model cards before anything else; `list scales` the dataset's
    assert main(["list", "scales"] if file.startswith("datasets") else RUN) == 2
    line = one_error_line(capsys)
    assert str(path) in line and message in line, line
    assert written() == before


def _bad_file(folder: Path, kind: str) -> Path:
    path = folder / "attacks" / f"{kind}.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(folder / "nowhere.toml")
    else:
        path.write_bytes(b'name = "latin"\nversion = 1\npaper = "Caf\xe9"\n')
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [("folder", "is not a file"), ("dangling", "is not a file"), ("latin1", "is not UTF-8")],
)
def test_a_card_that_is_no_text_file_is_one_line(
    world: Path, capsys: pytest.CaptureFixture, kind: str, message: str
) -> None:
    path = _bad_file(world, kind)
    assert main(RUN) == 2
    line = one_error_line(capsys)
    assert f"card {path} {message}" in line, line


def test_the_cards_shipped_load_and_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shipped card passes its schema; the resolved values keep their TOML types."""
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    for name in attack_names():
        card = attack_card(name)
        for profile in card.defaults:
            assert card.params(profile)
    assert {c.name for c in model_cards()} >= {"celeba-64-cpu64", "celeba-192-tune-cpu"}
    tune = model_card("celeba-192-tune-cpu")
    assert tune.role == "tuning" and tune.headroom["baseline_distinct"] == [17, 19, 23]
    assert attack_card("side").params("cpu")["n_syn"] == 8192
    assert dataset_card("celeba").scales["192-tune"]["offset"] == 5000


# A value of any TOML type, for the fuzz tests below.
TOML_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"\\\n\r'), max_size=8),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)


def _toml(value: object) -> str:
    from bench.cards import toml_table

    return toml_table("x", {"v": value}).splitlines()[1][len("v = ") :]


FUZZED = {
    "attacks/side.toml": ["version", "implementation", "paper", "applies_to", "tuned_on"],
    "models/tiny-8.toml": ["version", "scale", "resolution", "conditioning", "canaries", "role"],
    "datasets/celeba.toml": ["version", "nonmembers", "crop"],
}
# `bench list` reads every card of a kind; `list scales` reads the dataset card too.
LISTS = {"attacks": "attacks", "models": "models", "datasets": "scales"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.sampled_from([(f, k) for f, keys in FUZZED.items() for k in keys]),
    value=TOML_VALUES,
)
def test_fuzzed_card_fields_load_or_are_one_line(
    world: Path, capsys: pytest.CaptureFixture, which, value
) -> None:
    """Any TOML value in any top-level field: `bench list` reads the card, or says in one line
    which card and field, exit 2, writing nothing; never a traceback."""
    file, key = which
    path = world / file
    text = path.read_text()
    before = written()
    try:
        path.write_text(_top(text, f"{key} = {_toml(value)}"))
        capsys.readouterr()
        code = main(["list", LISTS[file.split("/")[0]]])
        if code != 0:
            assert code == 2 and str(path) in one_error_line(capsys)
        assert written() == before
    finally:
        path.write_text(text)
