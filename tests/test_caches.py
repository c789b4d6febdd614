"""Damaged or stale caches: removed or rebuilt with a one-line notice, never hidden or fatal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.attacks.store import RunStore
from bench.cards import dataset_card
from bench.cli import main
from bench.data.manifests import members
from bench.utils.paths import bench_home

RUN = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json"]
# Any JSON value, ledger-shaped ones included (lists of lists of integers).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["made", "reused", "adopted", "seconds", "x"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def run(capsys: pytest.CaptureFixture) -> tuple[dict, list[str]]:
    """One run's record and the notices it printed."""
    assert main(RUN) == 0
    out, err = capsys.readouterr()
    return json.loads(out), [line for line in err.splitlines() if line.startswith("note: ")]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_output_shard_is_made_again(trained: Path, capsys: pytest.CaptureFixture) -> None:
    first, _ = run(capsys)
    shard = bench_home() / first["outputs"] / "shard-00000.npz"
    truncate(shard)
    second, notes = run(capsys)
    assert len(notes) == 1 and f"output shard {shard} is corrupt" in notes[0]
    assert second["metrics"] == first["metrics"] and second["cost"] == first["cost"]
    assert len(RunStore(shard.parent).images()) == 8


@pytest.mark.parametrize("damage", [truncate, flip_last_byte])
def test_a_corrupt_image_cache_is_rebuilt(
    trained: Path, capsys: pytest.CaptureFixture, damage
) -> None:
    first, _ = run(capsys)
    cache = bench_home() / "arrays" / f"{first['data_cache']['members']}.npy"
    damage(cache)
    second, notes = run(capsys)
    assert len(notes) == 1 and f"preprocessed image cache {cache} is corrupt" in notes[0]
    assert second["metrics"] == first["metrics"]


def test_an_edited_source_image_rebuilds_the_cache(
    trained: Path, celeba_root: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run(capsys)
    cache = bench_home() / "arrays" / f"{first['data_cache']['members']}.npy"
    before = np.load(cache)
    names = members(dataset_card("celeba"), "8")
    folder = celeba_root / "img_align_celeba"
    (folder / names[1]).write_bytes((folder / names[2]).read_bytes())
    second, notes = run(capsys)
    assert len(notes) == 1 and f"source image {names[1]} changed" in notes[0]
    after = np.load(cache)
    assert np.array_equal(after[1], after[2]) and not np.array_equal(after[1], before[1])
    assert second["data_cache"] == first["data_cache"]


def test_a_source_image_truncated_after_caching_is_one_line(
    trained: Path, celeba_root: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run(capsys)
    record = next((bench_home() / "results").rglob("*.json"))
    before = record.read_bytes()
    name = members(dataset_card("celeba"), "8")[1]
    truncate(celeba_root / "img_align_celeba" / name)
    assert main(RUN) == 2
    lines = capsys.readouterr().err.splitlines()
    err = [line for line in lines if line.startswith(("note: ", "error: "))]  # not progress bars
    assert err[0].startswith("note: rebuilding") and f"source image {name} changed" in err[0]
    assert len(err) == 2 and err[1].startswith("error: image") and f"{name} is corrupt" in err[1]
    assert record.read_bytes() == before


def test_the_record_names_the_caches_it_used(trained: Path, capsys: pytest.CaptureFixture) -> None:
    record, _ = run(capsys)
    for key in record["data_cache"].values():
        assert (bench_home() / "arrays" / f"{key}.npy").is_file()


def test_corrupt_preparation_is_made_again(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = RunStore(tmp_path / "run")
    made = {"images": np.arange(6, dtype=np.uint8)}
    store.cached_arrays("synthetic", lambda: made)
    (tmp_path / "run" / "prep" / "synthetic.npz").write_bytes(b"PK\x03\x04 not a zip")
    again = store.cached_arrays("synthetic", lambda: made)
    assert np.array_equal(again["images"], made["images"])
    assert "cached preparation" in capsys.readouterr().err


# --- caches that feed a record: checked by their schema (issue 33) ----------------------------


@pytest.mark.parametrize("text", ['{"seconds": -1000}', '{"seconds": 1e308}', "null", "{}"])
def test_a_tampered_wall_file_never_enters_the_record(
    trained: Path, capsys: pytest.CaptureFixture, text: str
) -> None:
    first, _ = run(capsys)
    wall = bench_home() / first["outputs"] / "wall.json"
    wall.write_text(text)
    second, notes = run(capsys)
    assert any("wall-time file" in n and "corrupt" in n for n in notes), notes
    assert 0 <= second["wall_seconds"] < 600


@pytest.mark.parametrize(
    "ledger",
    [
        {"made": [], "reused": [[0, 0, 8, -(10**9), 1]]},
        {"made": [], "reused": [[0, 0, 8, 1, 1]], "adopted": None},
        {"made": [], "reused": [[0, 0, 8, 1]]},
    ],
)
def test_a_malformed_pool_ledger_is_remade_not_counted(
    trained: Path, capsys: pytest.CaptureFixture, ledger: dict
) -> None:
    first, _ = run(capsys)
    (bench_home() / first["outputs"] / "pool-rank0.json").write_text(json.dumps(ledger))
    second, notes = run(capsys)
    assert any("pool ledger" in n and "corrupt" in n for n in notes), notes
    assert second["pool"]["unet_evaluations_run"] >= 0


def test_a_pool_ledger_claiming_more_than_the_cost_is_one_line(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each entry well-formed, together impossible: unet_evaluations_run came out negative."""
    first, _ = run(capsys)
    ledger = {"made": [], "reused": [[9, i, 256, 10**9, 1] for i in range(3)]}
    (bench_home() / first["outputs"] / "pool-rank0.json").write_text(json.dumps(ledger))
    assert main(RUN) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "claim 3,000,000,000 UNet evaluations saved" in err[0]


def test_wall_time_keeps_an_interrupted_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time of the shards an interrupted attempt wrote stays in the cell's wall time: a
    resumed carlini run once recorded 57.2 s for outputs that took 102.7 s uninterrupted."""
    import bench.attacks.store as store_module

    now = [1000.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now[0])
    images = np.zeros((2, 8, 8, 3), np.uint8)
    first = RunStore(tmp_path / "cell")
    first.start_clock()
    now[0] += 40.0
    first.write_shard(0, images, unet=2)
    now[0] += 25.0  # then the attempt is killed: these seconds made nothing that was kept
    second = RunStore(tmp_path / "cell")
    second.start_clock()
    now[0] += 30.0
    second.write_shard(1, images, unet=2)
    now[0] += 5.0
    assert second.stop_clock() == pytest.approx(75.0)


def test_a_shard_whose_header_declares_absurd_images_is_remade_without_allocating(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    from tests.test_metrics import crafted_npz

    first, _ = run(capsys)
    crafted_npz(bench_home() / first["outputs"] / "shard-00000.npz", (10**13, 8, 8, 3))
    second, notes = run(capsys)
    assert any("output shard" in n and "declares uint8 (10000000000000" in n for n in notes), notes
    assert second["metrics"] == first["metrics"]


def test_an_image_cache_whose_header_declares_absurd_images_is_rebuilt(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    from numpy.lib import format as npy_format

    first, _ = run(capsys)
    for cache in (bench_home() / "arrays").glob("*.npy"):
        with cache.open("r+b") as f:
            npy_format.write_array_header_1_0(
                f, {"descr": "|u1", "fortran_order": False, "shape": (10**13, 8, 8, 3)}
            )
    second, notes = run(capsys)
    assert any("preprocessed image cache" in n and "declares" in n for n in notes), notes
    assert second["metrics"] == first["metrics"]


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.binary(max_size=60), JSON.map(json.dumps)))
def test_fuzzed_wall_and_ledger_files_are_remade_not_used(tmp_path_factory, text) -> None:
    """Whatever a wall.json or a pool ledger holds, the store uses a checked value or removes the
    file with a notice (a ValueError inside ``load_cached``): never a traceback, never a
    negative or absurd number."""
    from bench.attacks.store import _read_ledger
    from bench.utils.schema import MAX_SECONDS

    cell = tmp_path_factory.mktemp("cell")
    store = RunStore(cell)
    data = text.encode() if isinstance(text, str) else text
    (cell / "wall.json").write_bytes(data)
    assert 5.0 <= store.add_wall(5.0) <= MAX_SECONDS + 5.0
    (cell / "pool-rank0.json").write_bytes(data)
    ledger = _read_ledger(cell / "pool-rank0.json")
    assert ledger is None or all(x >= 0 for entries in ledger.values() for e in entries for x in e)
