"""Caches that feed records prove they are what was made (issue #33 §2): output shards and pooled
sample batches carry a digest of their arrays and their place, SIDE's cached classifier carries
its tensors' digest and statistics of a declared schema, and a SIDE record's ``info`` is checked
before the leaderboard reads its diagnostics. A tampered cache is made again; a tampered record
is one line, exit 2."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from bench.attacks.side import Side
from bench.attacks.side_diagnostics import ClassifierStats
from bench.attacks.store import RunStore, read_shard
from bench.cli import main
from bench.errors import BenchError
from bench.records.io import check_report_fields
from bench.utils.digest import DIGEST_KEY
from bench.utils.parallel import SINGLE
from bench.utils.paths import bench_home, reports_dir
from tests.conftest import FAST_SIDE
from tests.test_faults import CARLINI, SIDE, one_error_line, run_json

SIDE_JSON = [*SIDE, "--json"] + [a for k, v in FAST_SIDE.items() for a in ("--set", f"{k}={v}")]


def _classifier_files() -> tuple[Path, Path]:
    (meta,) = bench_home().rglob("classifier-*.json")
    return meta.with_suffix(".safetensors"), meta


def _tamper_stats(meta: Path) -> None:
    held = json.loads(meta.read_text())
    held["stats"]["clusters"] = 0
    meta.write_text(json.dumps(held))


def _tamper_tensors(meta: Path) -> None:
    tensors = meta.with_suffix(".safetensors")
    state = load_file(str(tensors))
    save_file({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, str(tensors))


def _legacy_meta(meta: Path) -> None:  # the file as written before it had a digest
    meta.write_text(json.dumps({"train_accuracy_last_tenth": 0.5, "final_loss": 0.1}))


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_tamper_stats, "clusters is 0: extra inputs are not permitted"),
        (_tamper_tensors, "its tensors are not those"),
        (_legacy_meta, "sha256 is missing"),
    ],
)
def test_a_tampered_classifier_cache_is_made_again(
    trained: Path, capsys: pytest.CaptureFixture, tamper, reason: str
) -> None:
    first, _ = run_json(SIDE_JSON, capsys)
    tensors, meta = _classifier_files()
    tamper(meta)
    second, found = run_json(SIDE_JSON, capsys)
    assert any(f"cached model {tensors} is corrupt" in n and reason in n for n in found), found
    assert second["info"] == first["info"] and second["metrics"] == first["metrics"]
    assert second["info"]["clusters"] == FAST_SIDE["n_clusters"]


def _side_record(capsys: pytest.CaptureFixture) -> tuple[Path, bytes]:
    assert main([*SIDE_JSON, "--publish"]) == 0
    assert main(["report"]) == 0
    capsys.readouterr()
    path = next((reports_dir() / "runs").rglob("*.json"))
    return path, (reports_dir() / "leaderboard.md").read_bytes()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda i: i.update(clusters=0), "info: clusters is 0: input should be greater than"),
        (lambda i: i.pop("heldout_accuracy"), "it has steering_rate but no heldout_accuracy"),
        (lambda i: i.update(clusters_kept=99), "clusters_kept 99 exceeds clusters 4"),
        (lambda i: i.update(steering_rate="high"), "info: steering_rate is 'high'"),
    ],
)
def test_a_side_record_with_broken_diagnostics_is_one_line(
    trained: Path, capsys: pytest.CaptureFixture, edit, message: str
) -> None:
    path, board = _side_record(capsys)
    record = json.loads(path.read_text())
    edit(record["info"])
    path.write_text(json.dumps(record))
    assert main(["report"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: run record {path}") and message in line, line
    assert (reports_dir() / "leaderboard.md").read_bytes() == board


def test_a_shard_with_other_pixels_is_made_again(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """Right shape and type, the digest it was written with, other pixels."""
    first, _ = run_json(CARLINI, capsys)
    shard = bench_home() / first["outputs"] / "shard-00000.npz"
    with np.load(shard) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["images"] = 255 - arrays["images"]
    np.savez(shard, **arrays)
    second, found = run_json(CARLINI, capsys)
    assert len(found) == 1 and f"output shard {shard} is corrupt" in found[0], found
    assert "do not match its digest" in found[0]
    assert second["metrics"] == first["metrics"] and second["cost"] == first["cost"]


def test_a_pool_batch_with_other_pixels_is_made_again(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """SIDE's synthetic set (seed 0 + 1) is a batch of the sample pool."""
    first, _ = run_json(SIDE_JSON, capsys)
    (batch,) = (bench_home() / "pool").rglob("seed1/batch-00000-n32.npz")
    with np.load(batch) as z:
        images = z["images"]
    np.savez(batch, images=np.roll(images, 1, axis=0))  # well-formed, written without a digest
    second, found = run_json(SIDE_JSON, capsys)
    assert any(f"pooled sample batch {batch} is corrupt" in n for n in found), found
    assert any("carries no digest" in n for n in found)
    assert second["metrics"] == first["metrics"] and second["info"] == first["info"]


def test_a_shard_moved_to_another_index_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "cell", ranks=SINGLE, resolution=4)
    store.write_shard(0, np.zeros((2, 4, 4, 3), np.uint8), unet=4)
    read_shard(store.shard_path(0), 4)
    store.shard_path(0).rename(store.shard_path(1))
    with pytest.raises(ValueError, match="do not match its digest as shard-00001.npz"):
        read_shard(store.shard_path(1), 4)


# --- fuzz tests of the loaders converted here --------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    info=st.fixed_dictionaries(
        {"clusters": st.integers(-2, 6), "clusters_kept": st.integers(-2, 6)},
        optional={
            "steering_rate": st.floats(-1, 2) | st.text(max_size=3),
            "steering_chance": st.floats(-1, 2),
            "heldout_accuracy": st.dictionaries(st.text(max_size=3), st.floats(-1, 2)),
            "bar_median": st.floats(-1, 1),
            "cohesion_median": st.floats(-1, 1),
            "scored": st.dictionaries(
                st.sampled_from(["aimed_at_copies", "synthetic_copies", "synthetic_members"]),
                st.floats(0, 1) | st.integers(0, 5),
            ),
        },
    )
)
def test_fuzzed_side_info_is_read_or_one_line(info: dict) -> None:
    """Any SIDE ``info``: refused in one line, or the leaderboard's diagnostics and the run's
    summary read it without an exception."""
    record = _minimal_record(info)
    try:
        check_report_fields(Path("fuzzed.json"), record)
    except BenchError as exc:
        assert "\n" not in str(exc) and "fuzzed.json" in str(exc)
        return
    Side.diagnostics(info)
    Side.summary_lines(info)


def _minimal_record(info: dict) -> dict:
    bands = {"high": 0.0, "mid": 0.0, "low": 0.0}
    return {
        "attack": "side",
        "model": "m",
        "seed": 0,
        "budget": 8,
        "params": {},
        "scale": "8",
        "profile": "cpu",
        "dataset": "celeba",
        "cost": {"unet_evaluations": 1, "classifier_evaluations": 0},
        "metrics": {
            "gu_fraction": 0.0,
            "ams": bands,
            "ums": bands,
            "extracted": {},
            "nonmember": {"ums": bands},
        },
        "info": info,
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(meta=JSON, as_text=st.booleans())
def test_fuzzed_classifier_metadata_is_made_again_never_a_traceback(
    tmp_path: Path, meta: object, as_text: bool
) -> None:
    """Whatever the metadata file holds, the cached state is used only when it is the one made
    (digest and schema); anything else is made again, and no exception leaves the store."""
    store = RunStore(Path(tempfile.mkdtemp(dir=tmp_path)), ranks=SINGLE)  # one per example
    made = []

    def make() -> tuple[dict[str, torch.Tensor], dict]:
        made.append(1)
        return {"w": torch.ones(2)}, {"train_accuracy_last_tenth": 0.5, "final_loss": 0.25}

    store.cached_tensors("clf", make, schema=ClassifierStats)
    meta_path = store.prep_root / "clf.json"
    meta_path.write_text(meta if as_text and isinstance(meta, str) else json.dumps(meta))
    tensors, stats = store.cached_tensors("clf", make, schema=ClassifierStats)
    assert stats == {"train_accuracy_last_tenth": 0.5, "final_loss": 0.25}
    assert torch.equal(tensors["w"], torch.ones(2)) and len(made) == 2


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(max_size=64),
    keep_digest=st.booleans(),
    extra=st.sampled_from([None, "labels"]),
)
def test_fuzzed_shards_load_only_as_written(data: bytes, keep_digest: bool, extra) -> None:
    """A shard whose bytes were replaced, with or without its digest, never loads as valid
    unless its arrays are the ones written."""
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "cell", ranks=SINGLE, resolution=2)
        original = np.zeros((1, 2, 2, 3), np.uint8)
        store.write_shard(0, original, unet=1)
        path = store.shard_path(0)
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        pixels = np.frombuffer(data.ljust(12, b"\0")[:12], np.uint8).reshape(1, 2, 2, 3)
        arrays["images"] = pixels
        if not keep_digest:
            arrays.pop(DIGEST_KEY)
        if extra == "labels":
            arrays["labels"] = np.zeros(1, np.int64)
        np.savez(path, **arrays)
        same = np.array_equal(pixels, original) and keep_digest and extra is None
        try:
            read_shard(path, 2)
        except ValueError:
            assert not same
        else:
            assert same
