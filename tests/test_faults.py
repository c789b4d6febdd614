"""Faults that used to end in a traceback (issue 20): each is one line and exit 2, or a notice and a
rebuilt cache, and leaves every earlier file intact.

Unwritable folders are made with ``chattr +i`` (root writes through permission bits) and full
disks with a small tmpfs; where the test cannot make one, it skips and says why.
"""

from __future__ import annotations

import errno
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.utils.paths import REPO_ROOT, bench_home, reports_dir
from tests.conftest import FAST_SIDE

CARLINI = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--json"]
SIDE = ["run", "--attack", "side", "--scale", "8", "--budget", "8"]
CARLINI_8 = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8"]


def lines_of(err: str) -> list[str]:
    """stderr's lines, progress bars (redrawn with carriage returns) apart."""
    return [line for line in re.split(r"[\r\n]", err) if line.strip()]


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = lines_of(capsys.readouterr().err)
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and not any("Traceback" in line for line in lines), lines
    return errors[0]


def notes(err: str) -> list[str]:
    return [line for line in lines_of(err) if line.startswith("note: ")]


def written() -> dict[Path, bytes]:
    """Every file under BENCH_HOME and the reports folder, with its bytes."""
    roots = [Path(os.environ["BENCH_HOME"]), Path(os.environ["BENCH_REPORTS"])]
    return {
        p: p.read_bytes() for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file()
    }


def run_json(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[dict, list[str]]:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    return json.loads(out), notes(err)


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp-*")]


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``path`` made immutable (no file can be made in it, even by root) for the block."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not available here ({done.stderr.strip() or 'no chattr'})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write a file that takes every free byte of ``disk``; removing it frees the disk again."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            for size in (4096, 512, 1):  # the buffered remainder, until not one byte fits
                try:
                    while True:
                        os.write(f.fileno(), b"\0" * size)
                except OSError:
                    continue
    return filler


# --- every attack parameter is checked before any sampling ------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*SIDE, "--set", "features=bogus"],
            "must be 'pca', 'unet-mid', 'sscd', 'sscd-distilled' or 'sscd:PATH', got 'bogus'",
        ),
        (
            [*SIDE, "--set", "features=sscd:/missing.pt"],
            "SSCD model /missing.pt, which is not a file",
        ),
        (
            ["sweep", "--attack", "side", "--scale", "8", "--param", "features"]
            + ["--values", "pca,bogus", "--seeds", "0"],
            "side parameter features must be 'pca', 'unet-mid', 'sscd', 'sscd-distilled' or",
        ),
    ],
)
def test_a_bad_feature_space_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    before = written()
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert written() == before  # no synthetic set was sampled or cached


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*CARLINI_8, "--set", "tile_grid=3"], "tile_grid (3) does not divide the model's 8 px"),
        ([*CARLINI_8, "--set", "edge_threshold=1e300"], "edge_threshold"),
        ([*SIDE, "--set", "clf_width=4"], "clf_width (4) must be a multiple of 8"),
    ],
)
def test_parameters_that_break_the_arithmetic_are_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    """Values inside their cards' bounds once failed only after sampling (issue #33 §3)."""
    before = written()
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert written() == before


def test_more_clusters_than_synthetic_images_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    before = written()
    assert main([*SIDE, "--set", "n_syn=16", "--set", "n_clusters=32"]) == 2
    assert "n_clusters (32) exceeds n_syn (16)" in one_error_line(capsys)
    assert written() == before


def test_a_filter_that_keeps_no_cluster_is_one_line(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    # τ = 1 asks every cluster for perfect cohesion: none has it. The message used to raise an
    # AttributeError of its own (issue #33).
    argv = [*SIDE, "--set", "n_syn=32", "--set", "n_clusters=4", "--set", "tau=1"]
    assert main(argv) == 2
    assert "no cluster reached its cohesion bar (τ=1.0" in one_error_line(capsys)


# --- leftovers: stale temporaries and the training lock ----------------------------------------
def test_a_killed_runs_temporary_shard_is_swept_when_the_cell_reopens(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run_json(CARLINI, capsys)
    cell = bench_home() / first["outputs"]
    stale = cell / ".shard-00001.npz.tmp-4194301"
    stale.write_bytes(b"half a shard")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    live = cell / ".shard-00002.npz.tmp-4194302"  # newer than the run: a peer rank's write
    live.write_bytes(b"being written")
    os.utime(live, (time.time() + 3600, time.time() + 3600))
    second, found = run_json(CARLINI, capsys)
    assert not stale.exists() and live.exists()
    assert found == [f"note: removed 1 temporary file(s) a stopped run left in {cell}"]
    assert second["metrics"] == first["metrics"]


HOLD = """
import sys
from pathlib import Path
from bench.utils.locks import lock_cell
lock_cell(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def test_two_trainings_of_one_card_do_not_both_run(
    world: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = bench_home() / "train" / "tiny-8"
    folder.mkdir(parents=True)
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert other.stdout.readline().strip() == "locked"
        assert main(["zoo", "train", "tiny-8"]) == 2
        line = one_error_line(capsys)
        assert "the training of tiny-8 is already running (pid" in line
        assert not (folder / "state.safetensors").exists()
    finally:
        other.stdin.close()
        other.wait()


# --- unwritable folders inside BENCH_HOME -------------------------------------------------------
def test_an_unwritable_array_folder_is_one_line(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    arrays = bench_home() / "arrays"
    for path in arrays.iterdir():  # the training's caches: the run must make its own
        path.unlink()
    with immutable(arrays):
        assert main(CARLINI) == 2
        line = one_error_line(capsys)
    assert f"cannot write in the preprocessed-array folder {arrays}: permission denied" in line
    assert not any(arrays.iterdir())


def test_an_unwritable_cell_folder_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run_json(CARLINI, capsys)
    attack_folder = (bench_home() / first["outputs"]).parent
    before = written()
    with immutable(attack_folder):
        assert main([*CARLINI, "--seed", "1"]) == 2
        line = one_error_line(capsys)
    assert f"cannot write in the cell's output folder {attack_folder}: permission denied" in line
    assert written() == before


def test_an_unwritable_results_folder_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run_json(CARLINI, capsys)
    results = next((bench_home() / "results").rglob("*.json")).parent
    before = written()
    with immutable(results):
        assert main([*CARLINI, "--seed", "1"]) == 2
        line = one_error_line(capsys)
    assert f"cannot write in the results folder {results}: permission denied" in line
    assert written() == before  # not one shard of seed 1 was sampled


def test_a_write_into_an_unwritable_folder_names_the_file(tmp_path: Path) -> None:
    from bench.records import read_record, write_record

    path = tmp_path / "results" / "seed0-n8-abc.json"
    record = {"attack": "carlini", "model": "m", "seed": 0, "budget": 8, "params": {}}
    write_record(path, {**record, "metrics": {"old": 1}})
    with immutable(path.parent), pytest.raises(BenchError) as caught:
        write_record(path, {**record, "metrics": {"new": 2}})
    assert str(caught.value).startswith(f"cannot write {path}: permission denied")
    assert "\n" not in str(caught.value)
    assert read_record(path)["metrics"] == {"old": 1}


def test_a_write_on_a_read_only_file_system_says_so(small_disk: Path) -> None:
    from bench.utils.atomic import write_text_atomic

    path = small_disk / "leaderboard.md"
    write_text_atomic(path, "the old board\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(BenchError, match=f"cannot write {path}: the file system is read-only"):
        write_text_atomic(path, "a new board\n")
    assert path.read_text() == "the old board\n"


# --- a full disk ---------------------------------------------------------------------------------
def test_a_full_disk_while_preprocessing_names_the_space_needed(
    world: Path, celeba_root: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.cards import dataset_card
    from bench.data.manifests import members
    from bench.data.preprocess import cached_images

    monkeypatch.setenv("BENCH_HOME", str(small_disk))
    card = dataset_card("celeba")
    names = members(card, "8")
    filler = fill(small_disk)
    with pytest.raises(BenchError) as caught:
        cached_images(card, celeba_root, names, 8)
    message = str(caught.value)
    assert message.startswith(f"cannot write {small_disk / 'arrays'}/celeba-8px-8-")
    assert "the disk is full (0 B free, this step needs 1.5 KB)" in message, message
    assert not list((small_disk / "arrays").iterdir())  # nothing half-written
    filler.unlink()
    images, _ = cached_images(card, celeba_root, names, 8)  # the rerun completes
    assert images.shape == (8, 8, 8, 3)


def test_a_full_disk_is_refused_before_sampling(
    trained: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("BENCH_HOME", str(small_disk))
    fill(small_disk)
    assert main(CARLINI) == 2
    line = one_error_line(capsys)
    # 3.6 KB of output shards and 1.5 KB for the same 8 images in the sample pool
    assert "the run's outputs need about 5.1 KB under" in line and "0 B are free" in line, line
    assert not list(small_disk.rglob("*.npz"))


def test_a_disk_that_fills_while_a_shard_is_written_is_one_line_and_resumes(
    trained: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bench.attacks.store import RunStore

    straight, _ = run_json(CARLINI, capsys)
    monkeypatch.setenv("BENCH_HOME", str(small_disk))
    write_shard = RunStore.write_shard
    fillers: list[Path] = []

    def fill_then_write(self: RunStore, *args, **kwargs) -> None:
        fillers.append(fill(small_disk))  # another program takes the disk mid-run
        write_shard(self, *args, **kwargs)

    monkeypatch.setattr(RunStore, "write_shard", fill_then_write)
    assert main(CARLINI) == 2
    line = one_error_line(capsys)
    shard = small_disk / straight["outputs"] / "shard-00000.npz"
    assert line.startswith(f"error: cannot write {shard}: the disk is full (0 B free, this step")
    assert not shard.exists() and not temporaries(small_disk)  # nothing half-written
    monkeypatch.setattr(RunStore, "write_shard", write_shard)
    fillers[0].unlink()
    resumed, _ = run_json(CARLINI, capsys)
    assert resumed["metrics"] == straight["metrics"]


# --- budgets --------------------------------------------------------------------------------------
def test_a_budget_above_the_limit_needs_force(world: Path, capsys: pytest.CaptureFixture) -> None:
    before = written()
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "1000000000000"]) == 2
    line = one_error_line(capsys)
    assert "N_G 1,000,000,000,000 is above the suite's limit of 51,200" in line
    assert line.endswith("pass --force to run it anyway")
    assert written() == before


@pytest.mark.parametrize("command", ["run", "sweep", "curve", "floors"])
def test_the_budget_limit_is_in_the_help(
    world: Path, capsys: pytest.CaptureFixture, command: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "at most 51,200 unless --force" in text


def test_a_forced_budget_no_disk_holds_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    before = written()
    argv = ["run", "--attack", "carlini", "--scale", "8", "--budget", "1000000000000", "--force"]
    assert main(argv) == 2
    # 200 TB of output shards (with their headers) and 192 TB for the same images in the pool
    assert "the run's outputs need about 392.0 TB under" in one_error_line(capsys)
    assert written() == before


def test_a_long_run_prints_its_estimate_first(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bench.runner import preflight

    monkeypatch.setattr(preflight, "TIMED_FROM", 0)
    monkeypatch.setattr(preflight, "LONG_RUN_SECONDS", 0.0)
    record, found = run_json(CARLINI, capsys)
    assert len(found) == 1, found
    assert found[0].startswith("note: this run has 2 phase(s) of work left, about ")
    assert "(sampling: 32 UNet evaluations, " in found[0]  # 8 outputs × 4 steps
    assert "; scoring: " in found[0]
    assert f"writes about 3.6 KB under {bench_home() / record['outputs']}" in found[0]
    assert "and 1.5 KB to the sample pool;" in found[0]


# --- the preprocessed-array cache notices changed content ----------------------------------------
def _same_size_swap(folder: Path, names: list[str]) -> tuple[str, str]:
    """Replace one member image by another's pixels, keeping its size and modification time."""
    sizes = {n: (folder / n).stat().st_size for n in names}
    target, source = next((a, b) for a in names for b in names if a != b and sizes[b] <= sizes[a])
    st = (folder / target).stat()
    data = (folder / source).read_bytes()
    (folder / target).write_bytes(data + b"\0" * (sizes[target] - len(data)))  # after the EOI
    os.utime(folder / target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (folder / target).stat().st_size == st.st_size
    return target, source


def test_an_image_replaced_with_its_size_and_time_kept_rebuilds_the_cache(
    trained: Path, celeba_root: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.cards import dataset_card
    from bench.data.manifests import members

    first, _ = run_json(CARLINI, capsys)
    cache = bench_home() / "arrays" / f"{first['data_cache']['members']}.npy"
    names = members(dataset_card("celeba"), "8")
    target, source = _same_size_swap(celeba_root / "img_align_celeba", names)
    _, found = run_json(CARLINI, capsys)
    assert len(found) == 1 and f"source image {target} changed" in found[0]
    after = np.load(cache)
    assert np.array_equal(after[names.index(target)], after[names.index(source)])


def test_an_image_touched_without_a_change_keeps_the_cache(
    trained: Path, celeba_root: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run_json(CARLINI, capsys)
    cache = bench_home() / "arrays" / f"{first['data_cache']['members']}.npy"
    built = cache.stat().st_mtime_ns
    for image in (celeba_root / "img_align_celeba").iterdir():
        os.utime(image, (time.time() + 60, time.time() + 60))
    _, found = run_json(CARLINI, capsys)
    assert found == [] and cache.stat().st_mtime_ns == built


# --- names are validated as names -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "a\\b"])
def test_an_import_name_that_is_a_path_is_refused_as_a_name(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    before = written()
    assert main(["zoo", "import", str(tmp_path), "--name", name, "--scale", "8"]) == 2
    line = one_error_line(capsys)
    assert f"--name {name!r} is not a valid name" in line and "path separators" in line
    assert written() == before and not (world / "escape.toml").exists()


def test_a_card_whose_name_is_a_path_is_one_line(
    world: Path, capsys: pytest.CaptureFixture
) -> None:
    card = world / "models" / "tiny-8.toml"
    card.write_text(card.read_text().replace('name = "tiny-8"', 'name = "../tiny-8"', 1))
    assert main(["zoo", "list"]) == 2
    assert f"card {card}: its name '../tiny-8' is not a valid name" in one_error_line(capsys)


# --- files that parse but have the wrong shape ---------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(metrics="high"), "metrics is 'high': input should be a valid dict"),
        (lambda r: r["metrics"].pop("ams"), "metrics.ams is missing"),
        (lambda r: r["metrics"].pop("ums"), "metrics.ums is missing"),
        (lambda r: r["metrics"]["ums"].update(high="12%"), "metrics.ums.high is '12%': input"),
        (lambda r: r["metrics"]["nonmember"].pop("ums"), "metrics.nonmember.ums is missing"),
        (lambda r: r["cost"].update(unet_evaluations=None), "cost.unet_evaluations is None"),
        (lambda r: r.update(seed="0"), "seed is '0': input should be a valid integer"),
        # issue 33: values of the right type that no run writes
        (lambda r: r.update(budget=0), "budget is 0: input should be greater than or equal to 1"),
        (lambda r: r["metrics"].update(members_hit=5), "metrics.members_hit is 5"),
        (lambda r: r["metrics"]["ums"].update(high=8.0), "metrics.ums.high is 8.0: input should"),
        (lambda r: r.update(canaries={"tiers": [{"times": 2}]}), "canaries.tiers.0.n is missing"),
        (lambda r: r.update(candidates={"n": 3}), "candidates.extracted is missing"),
    ],
)
def test_a_misshapen_record_is_one_line_naming_file_and_field(
    trained: Path, capsys: pytest.CaptureFixture, edit, message: str
) -> None:
    assert main([*CARLINI, "--publish"]) == 0
    capsys.readouterr()
    path = next((reports_dir() / "runs").rglob("*.json"))
    assert main(["report"]) == 0
    board = (reports_dir() / "leaderboard.md").read_bytes()
    capsys.readouterr()
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    assert main(["report"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: run record {path}") and message in line, line
    assert (reports_dir() / "leaderboard.md").read_bytes() == board


@pytest.mark.parametrize(
    "images",
    [np.zeros((8, 16, 16), np.uint8), np.zeros((8, 8, 8, 3), np.float64), np.zeros((8, 4, 4, 3))],
)
def test_a_misshapen_output_shard_is_made_again(
    trained: Path, capsys: pytest.CaptureFixture, images: np.ndarray
) -> None:
    first, _ = run_json(CARLINI, capsys)
    shard = bench_home() / first["outputs"] / "shard-00000.npz"
    np.savez(shard, images=images, unet=np.int64(32), classifier=np.int64(0))
    second, found = run_json(CARLINI, capsys)
    assert len(found) == 1 and f"output shard {shard} is corrupt (ValueError: it holds" in found[0]
    assert second["metrics"] == first["metrics"] and second["cost"] == first["cost"]


def test_a_sources_record_that_is_a_list_rebuilds_the_cache(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    first, _ = run_json(CARLINI, capsys)
    cache = bench_home() / "arrays" / f"{first['data_cache']['members']}.npy"
    cache.with_suffix(".sources.json").write_text("[]\n")
    second, found = run_json(CARLINI, capsys)
    assert len(found) == 1 and f"preprocessed image cache {cache} is corrupt" in found[0]
    assert "is not an object" in found[0]
    assert json.loads(cache.with_suffix(".sources.json").read_text())["names"]
    assert second["metrics"] == first["metrics"]


def test_a_misshapen_synthetic_set_is_made_again(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """SIDE's synthetic set (seed 0 + 1, 32 images) is a batch of the sample pool."""
    argv = [*SIDE, "--json"] + [a for k, v in FAST_SIDE.items() for a in ("--set", f"{k}={v}")]
    first, _ = run_json(argv, capsys)
    (synthetic,) = (bench_home() / "pool").rglob("seed1/batch-00000-n32.npz")
    np.savez(synthetic, images=np.zeros((32, 16, 16, 3), np.uint8))
    second, found = run_json(argv, capsys)
    assert len(found) == 1 and f"pooled sample batch {synthetic} is corrupt" in found[0], found
    assert "not uint8 32×8×8×3" in found[0]
    assert second["metrics"] == first["metrics"] and second["info"] == first["info"]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` pixels in a few bytes (no image data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_evaluate_on_a_decompression_bomb_is_one_line(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "huge.png").write_bytes(_png_header(15000, 15000))
    argv = ["evaluate", "--samples", str(folder), "--scale", "8"]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert f"cannot read {folder / 'huge.png'}: Image size (225000000 pixels) exceeds" in line
