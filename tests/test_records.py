"""Reading and writing run records: strict JSON, known schemas, one line naming a bad file."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import main
from bench.errors import BenchError
from bench.records import SUPPORTED, read_record, write_record
from bench.utils.paths import REPO_ROOT, reports_dir

MINIMAL = {"attack": "carlini", "model": "m", "seed": 0, "budget": 8, "params": {}, "metrics": {}}
COMMITTED = sorted(
    p for runs in ("runs", "sweeps/runs") for p in (REPO_ROOT / "reports" / runs).rglob("*.json")
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"attack": ', "is not valid JSON"),
        (json.dumps(MINIMAL).replace('"metrics": {}', '"metrics": {"ams": NaN}'), "NaN is not"),
        ("[1, 2]", "is not a JSON object"),
        (
            json.dumps({**MINIMAL, "schema": 8}),
            "has schema 8; this code reads schemas 1, 2, 3, 4, 5, 6, 7",
        ),
        (json.dumps({**MINIMAL, "schema": "3"}), "has schema '3'"),
        (json.dumps({"attack": "carlini"}), "lacks model, seed, budget, params, metrics"),
    ],
)
def test_a_bad_record_is_one_error_naming_its_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "seed0-n8-abc.json"
    path.write_text(text)
    with pytest.raises(BenchError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        read_record(path)


def test_records_without_a_schema_are_schema_1(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(MINIMAL))
    assert read_record(path) == MINIMAL


def test_every_committed_record_is_readable() -> None:
    assert COMMITTED, "reports/runs/ holds the leaderboard's records"
    for path in COMMITTED:
        assert read_record(path)["schema"] in SUPPORTED


def test_a_non_finite_value_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    record = {**MINIMAL, "metrics": {"ums": {"high": math.nan}}}
    with pytest.raises(BenchError, match="holds a non-finite metrics.ums.high"):
        write_record(path, record)
    assert not path.exists()
    write_record(path, MINIMAL)
    assert read_record(path) == MINIMAL


@pytest.mark.parametrize("text", ["{ truncated", json.dumps(MINIMAL).replace("{}", "NaN", 1)])
def test_report_stops_at_a_bad_record_and_keeps_the_leaderboard(
    world: Path, capsys: pytest.CaptureFixture, text: str
) -> None:
    bad = reports_dir() / "runs" / "carlini" / "tiny-8" / "seed0-n8-abc.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(text)
    board = reports_dir() / "leaderboard.md"
    board.write_text("the committed leaderboard\n")
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: run record {bad} ")
    assert board.read_text() == "the committed leaderboard\n"


def test_the_commit_ignores_records_and_is_taken_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records written during a grid must not mark its code dirty, and a HEAD that moves while
    the grid runs must not rename the code the grid started with."""
    import subprocess

    from bench.utils import provenance

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    for name in ("code.py", "reports/r.json"):
        (tmp_path / name).write_text("1")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    provenance.git_commit.cache_clear()
    (tmp_path / "reports" / "r.json").write_text("2")
    first = provenance.git_commit()
    assert len(first) == 40  # a rewritten record is not dirty code
    (tmp_path / "code.py").write_text("2")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    assert provenance.git_commit() == first
    provenance.git_commit.cache_clear()
    assert provenance.git_commit() != first
    (tmp_path / "code.py").write_text("3")
    provenance.git_commit.cache_clear()
    assert provenance.git_commit().endswith("+dirty")
    provenance.git_commit.cache_clear()


def _shape_errors(record: dict, where: str) -> list[str]:
    """Keys a record (or its metrics, cost, canaries, candidates) has beyond or below what
    ``bench.records.types`` declares; old schemas may lack optional fields, never add any."""
    from bench.records import types

    errors = []

    def check(value: dict, kind: type, what: str) -> None:
        keys, declared = set(value), types.declared_keys(kind)
        if keys - declared:
            errors.append(f"{where}: {what} has undeclared {sorted(keys - declared)}")
        if kind.__required_keys__ - keys:
            errors.append(f"{where}: {what} lacks {sorted(kind.__required_keys__ - keys)}")

    check(record, types.RunRecord, "the record")
    if record.get("schema", 1) < 3:
        return errors  # older metrics lack what schema 3 added; the reader still reads them
    check(record["metrics"], types.Metrics, "metrics")
    check(record["metrics"]["nonmember"], types.ChanceMetrics, "metrics.nonmember")
    if "cost" in record:
        check(record["cost"], types.Cost, "cost")
    if record.get("canaries") and "tiers" in record["canaries"]:
        check(record["canaries"], types.Canaries, "canaries")
        for tier in record["canaries"]["tiers"]:
            check(tier, types.Tier, "a canary tier")
    if record.get("candidates"):
        check(record["candidates"], types.Candidates, "candidates")
    for key, kind in (("pool", types.PoolUse), ("runtime", types.Runtime)):  # schema 5 on
        if key in record:
            check(record[key], kind, key)
    return errors


def test_every_committed_record_has_only_declared_fields() -> None:
    # Extraction records only: the membership track keeps its own records, with their own schema,
    # under reports/membership/ (bench.membership reads them).
    every = sorted(p for p in reports_dir().rglob("runs/**/*.json") if "membership" not in p.parts)
    assert len(every) > len(COMMITTED)  # curves' and sweeps' records too
    errors = [e for p in every for e in _shape_errors(read_record(p), p.name)]
    assert errors == []


def test_written_records_have_exactly_the_declared_fields(trained: Path) -> None:
    """A cell's record, a filtering attack's and a curve prefix's: every declared field that a
    record of this code always writes is there, and nothing else."""
    from bench.records import types
    from tests.conftest import cell_record, curve_records

    always = types.declared_keys(types.RunRecord) - {"model_path", "member_manifest", "prefix_of"}
    rec = cell_record("carlini", "8", budget=16, overrides={"clique_k": 2}, write=False)
    assert set(rec) == always and not _shape_errors(rec, "carlini")
    assert set(rec["cost"]) == types.declared_keys(types.Cost)
    (curve,) = curve_records("carlini", "tiny-8", [8], [0])
    prefix = read_record(curve)
    assert set(prefix) == always | {"prefix_of"} and not _shape_errors(prefix, "curve")


def test_the_model_config_lists_defaulted_keys_in_one_order() -> None:
    """diffusers builds ``_use_default_values`` from a set; a record lists it sorted, so the same
    cell re-run in another process writes the same record."""
    from types import SimpleNamespace

    from diffusers import DDIMScheduler

    from bench.zoo.targets import model_config

    sampler = DDIMScheduler.from_config({"num_train_timesteps": 10})
    defaulted = list(sampler.config["_use_default_values"])
    assert len(defaulted) > 1
    sampler.register_to_config(_use_default_values=defaulted[::-1])
    config = model_config(SimpleNamespace(unet=sampler), sampler)
    assert config["scheduler"]["_use_default_values"] == sorted(defaulted)
    assert config["scheduler"]["_class_name"] == "DDIMScheduler"


@pytest.mark.parametrize("outputs", ["/", "../../elsewhere", "runs/../../../elsewhere", 5, ""])
def test_a_record_whose_outputs_lie_outside_bench_home_is_refused(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture, outputs: object
) -> None:
    """`bench report --galleries` read shards where ``outputs`` pointed and deleted one it found
    corrupt: a crafted record could make it delete a file anywhere."""
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--publish"]) == 0
    capsys.readouterr()
    path = next((reports_dir() / "runs").rglob("*.json"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shard-00000.npz").write_bytes(b"not a shard, but someone's file")
    record = json.loads(path.read_text())
    if outputs == "/":
        outputs = str(elsewhere)
    path.write_text(json.dumps({**record, "outputs": outputs}))
    assert main(["report", "--galleries"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"run record {path}: outputs is " in err
    assert (elsewhere / "shard-00000.npz").is_file()


def test_a_link_inside_bench_home_that_points_out_is_refused(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.utils.paths import bench_home

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shard-00000.npz").write_bytes(b"someone's file")
    (bench_home() / "runs").mkdir(exist_ok=True)
    (bench_home() / "runs" / "link").symlink_to(elsewhere)
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--publish"]) == 0
    capsys.readouterr()
    path = next((reports_dir() / "runs").rglob("*.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), "outputs": "runs/link"}))
    assert main(["report", "--galleries"]) == 2
    assert "does not lie inside" in capsys.readouterr().err
    assert (elsewhere / "shard-00000.npz").is_file()


# --- fuzzing the record loader (issue 33): any JSON is a record or one line, never a traceback --

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:2]):
            found += _paths(v, (*prefix, i))
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_records_are_read_or_refused_in_one_line(tmp_path_factory, data) -> None:
    import copy

    from bench.records import check_report_fields

    base = json.loads(COMMITTED[0].read_text())
    record = copy.deepcopy(base)
    where = data.draw(st.sampled_from(_paths(record)))
    parent = record
    for key in where[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = data.draw(JSON_VALUES)
    path = tmp_path_factory.mktemp("fuzz") / "seed0-n8-abc.json"
    path.write_text(json.dumps(record))
    try:
        check_report_fields(path, read_record(path))
    except BenchError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


def test_a_record_nested_thousands_deep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"attack": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(BenchError, match="nested too deeply"):
        read_record(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ not json", "is not JSON"),
        (json.dumps({"attack": "carlini", "model": "m", "budget": 8, "metrics": {}}), "ci_seed"),
        (
            json.dumps({"attack": "a", "model": "m", "budget": 0, "ci_seed": 0, "metrics": {}}),
            "budget is 0",
        ),
        ("[" * 5000 + "]" * 5000, "is not JSON"),
    ],
)
def test_a_bad_floor_file_is_one_line_before_the_report_writes(
    trained: Path, capsys: pytest.CaptureFixture, text: str, message: str
) -> None:
    """The plots were rewritten before a floor file that was not JSON stopped the report."""
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--publish"]) == 0
    assert main(["report"]) == 0
    capsys.readouterr()
    files = {p: p.read_bytes() for p in reports_dir().rglob("*") if p.is_file()}
    bad = reports_dir() / "floors" / "carlini-tiny-8.json"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(text)
    assert main(["report"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"floor file {bad}" in err[0] and message in err[0], err
    assert {p: p.read_bytes() for p in files} == files


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES, key=st.sampled_from(["attack", "budget", "ci_seed", "metrics", "x"]))
def test_fuzzed_floor_files_are_read_or_refused_in_one_line(
    tmp_path_factory, value: object, key: str
) -> None:
    from bench.records.floorfile import read_floor

    floor = json.loads(sorted((REPO_ROOT / "reports" / "floors").glob("*.json"))[0].read_text())
    path = tmp_path_factory.mktemp("floor") / "f.json"
    path.write_text(json.dumps({**floor, key: value}))
    try:
        read_floor(path)
    except BenchError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
