"""The metrics engine on planted cases with hand-computed answers, properties, SSCD and the CLI.

Images are random uint8 arrays in [40, 215]; two such images lie about 0.28 apart in normalised ℓ2,
far from every band below. A "shifted" copy moves every channel by exactly ±t, so its distance to
the original is exactly t / 255 and can be placed in the middle of any band.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.cards import dataset_card
from bench.cards.registry import tomllib
from bench.data.subset import Subset
from bench.errors import BenchError
from bench.metrics import BAND_NAMES, calibrate_bands, score
from bench.metrics.calibrate import CALIBRATED_MARKER, write_bands
from bench.metrics.samples import load_samples

RES = 16
BANDS = {
    "high": {"lo": 0.0, "hi": 0.05},
    "mid": {"lo": 0.05, "hi": 0.1},
    "low": {"lo": 0.1, "hi": 0.15},
}
DELTAS = [0.05, 0.1, 0.15]
# Shifts whose distance t/255 sits mid-band: 0.0235 (high), 0.0745 (mid), 0.1255 (low).
T_BAND = {"high": 6, "mid": 19, "low": 32}


def faces(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(40, 216, (n, RES, RES, 3), dtype=np.uint8)


def shifted(image: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    signs = rng.choice(np.array([-1, 1], dtype=np.int16), image.shape)
    return (image.astype(np.int16) + t * signs).astype(np.uint8)


RNG = np.random.default_rng(0)
MEMBERS = faces(RNG, 60)  # more than Carlini's n = 50, so the calibration uses a true subset
NONMEMBERS = faces(RNG, 40)


def run_score(
    outputs: np.ndarray, members: np.ndarray = MEMBERS, nonmembers: np.ndarray = NONMEMBERS
) -> dict:
    return score(outputs, members, nonmembers, BANDS, DELTAS)


# --- planted cases ----------------------------------------------------------------------------


def test_planted_copies_bands_and_nonmembers():
    rng = np.random.default_rng(1)
    outputs = np.stack(
        [
            MEMBERS[0],  # exact copy
            shifted(MEMBERS[1], T_BAND["high"], rng),
            shifted(MEMBERS[2], T_BAND["mid"], rng),
            shifted(MEMBERS[3], T_BAND["low"], rng),
            NONMEMBERS[0],  # an image the model never saw
            MEMBERS[0],  # the same copy again
            faces(rng, 1)[0],  # unrelated
        ]
    )
    r = run_score(outputs)
    assert r["n_outputs"] == 7
    assert r["ams"] == {"high": 3 / 7, "mid": 1 / 7, "low": 1 / 7}
    assert r["ums"] == {"high": 2 / 7, "mid": 1 / 7, "low": 1 / 7}
    assert r["extracted"] == {"0.05": 2, "0.1": 3, "0.15": 4}
    # Which members, not only how many: the copy and the high-band shift are members 0 and 1.
    assert r["members_hit"] == {
        "high": [0, 1],
        "0.05": [0, 1],
        "0.1": [0, 1, 2],
        "0.15": [0, 1, 2, 3],
    }
    assert "members_hit" not in r["nonmember"]
    # Calibrated: d < 0.5 · mean of 50 nearest (≈ 0.14), so copies up to the low band count.
    assert r["calibrated_extracted"] == 4
    # Gu: d1/d2 ≈ 0, 0.08, 0.26 pass 1/3; the low-band copy (≈ 0.43) does not.
    assert r["gu_fraction"] == 4 / 7
    assert r["gu_unique"] == 3
    # Against non-members only the non-member image itself matches: the chance level.
    chance = r["nonmember"]
    assert chance["ams"] == {"high": 1 / 7, "mid": 0.0, "low": 0.0}
    assert chance["ums"] == {"high": 1 / 7, "mid": 0.0, "low": 0.0}
    assert chance["extracted"] == {"0.05": 1, "0.1": 1, "0.15": 1}
    assert chance["calibrated_extracted"] == 1
    assert (chance["gu_fraction"], chance["gu_unique"]) == (1 / 7, 1)
    assert r["bands"] == BANDS
    json.dumps(r)  # plain JSON types only


def test_repeated_output_is_not_double_counted():
    r = run_score(np.repeat(MEMBERS[:1], 5, axis=0))
    assert r["ams"]["high"] == 1.0
    assert r["ums"]["high"] == 1 / 5
    assert r["extracted"]["0.05"] == 1
    assert (r["calibrated_extracted"], r["gu_unique"]) == (1, 1)


def test_output_in_band_of_two_members_counts_both():
    rng = np.random.default_rng(2)
    base = faces(rng, 1)[0]
    signs = rng.choice(np.array([-1, 1], dtype=np.int16), base.shape)
    pair = np.stack([base, (base + 8 * signs).astype(np.uint8)])  # members 8/255 apart
    output = (base + 4 * signs).astype(np.uint8)[None]  # 4/255 from both
    r = run_score(output, members=np.concatenate([pair, faces(rng, 10)]))
    assert r["ams"]["high"] == 1.0
    assert r["ums"]["high"] == 2.0  # UMS divides by outputs, so it can exceed 1
    assert r["extracted"]["0.05"] == 2
    assert r["gu_fraction"] == 0.0  # d1 = d2: no single member stands out


def test_every_member_in_band_counts_not_only_the_nearest_fifty():
    rng = np.random.default_rng(3)
    base = faces(rng, 1)[0]
    cluster = np.stack([shifted(base, 1 + i % 3, rng) for i in range(70)])  # all within 3/255
    members = np.concatenate([cluster, faces(rng, 20)])
    r = run_score(base[None], members=members)
    assert r["ums"]["high"] == 70.0
    assert r["extracted"] == {"0.05": 70, "0.1": 70, "0.15": 70}
    assert r == reference(base[None], members)


def test_empty_output_set_is_a_clear_error():
    with pytest.raises(BenchError, match="no outputs to score"):
        run_score(MEMBERS[:0])


def test_outputs_at_another_resolution_are_refused():
    with pytest.raises(BenchError, match="resize the outputs"):
        run_score(np.zeros((2, 8, 8, 3), np.uint8))


def test_band_edges_are_validated():
    with pytest.raises(BenchError, match="'mid' is missing"):
        score(MEMBERS[:1], MEMBERS, NONMEMBERS, {"high": BANDS["high"]}, DELTAS)


# --- a brute-force reference and property tests -----------------------------------------------


def _pool_reference(outputs: np.ndarray, pool: np.ndarray) -> dict:
    """The definitions written out over the full O(N·M) distance matrix, in float64."""
    a = outputs.reshape(len(outputs), -1).astype(np.float64) / 255
    b = pool.reshape(len(pool), -1).astype(np.float64) / 255
    d = np.sqrt(((a[:, None] - b[None]) ** 2).mean(-1))
    n = len(outputs)
    order = np.sort(d, axis=1)
    in_band = {k: (d >= v["lo"]) & (d < v["hi"]) for k, v in BANDS.items()}
    near = order[:, 0]
    threshold = 0.5 * order[:, :50].mean(1, keepdims=True)
    gu = order[:, 0] < order[:, 1] / 3
    return {
        "ams": {
            k: float(((near >= v["lo"]) & (near < v["hi"])).sum()) / n for k, v in BANDS.items()
        },
        "ums": {k: int(m.any(0).sum()) / n for k, m in in_band.items()},
        "hit_rate": {k: int(m.any(0).sum()) / len(pool) for k, m in in_band.items()},
        "extracted": {str(t): int((d <= t).any(0).sum()) for t in DELTAS},
        "calibrated_extracted": int((d < threshold).any(0).sum()),
        "gu_fraction": int(gu.sum()) / n,
        "gu_unique": len(set(d[gu].argmin(1).tolist())),
        "nearest_median": pytest.approx(float(np.median(near)), abs=1e-4),
        "nearest_p95": pytest.approx(float(np.percentile(near, 95)), abs=1e-4),
    }


def reference(
    outputs: np.ndarray, members: np.ndarray = MEMBERS, nonmembers: np.ndarray = NONMEMBERS
) -> dict:
    a = outputs.reshape(len(outputs), -1).astype(np.float64) / 255
    b = members.reshape(len(members), -1).astype(np.float64) / 255
    d = np.sqrt(((a[:, None] - b[None]) ** 2).mean(-1))
    high = (d >= BANDS["high"]["lo"]) & (d < BANDS["high"]["hi"])
    hit = {"high": np.flatnonzero(high.any(0)).tolist()}
    hit |= {str(t): np.flatnonzero((d <= t).any(0)).tolist() for t in DELTAS}
    return {
        "n_outputs": len(outputs),
        **_pool_reference(outputs, members),
        "members_hit": hit,
        "nonmember": _pool_reference(outputs, nonmembers),
        "bands": BANDS,
    }


KINDS = ("copy", "high", "mid", "low", "nonmember", "unrelated")


@st.composite
def planted_outputs(draw) -> np.ndarray:
    spec = draw(
        st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 39)), min_size=1, max_size=12)
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    out = []
    for kind, j in spec:
        if kind == "copy":
            out.append(MEMBERS[j])
        elif kind in T_BAND:
            out.append(shifted(MEMBERS[j], T_BAND[kind], rng))
        elif kind == "nonmember":
            out.append(NONMEMBERS[j])
        else:
            out.append(faces(rng, 1)[0])
    return np.stack(out)


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(outputs=planted_outputs())
def test_engine_matches_the_definitions(outputs):
    assert run_score(outputs) == reference(outputs)


@PROPERTY
@given(outputs=planted_outputs(), seed=st.integers(0, 2**16))
def test_permuting_outputs_changes_nothing(outputs, seed):
    perm = np.random.default_rng(seed).permutation(len(outputs))
    assert run_score(outputs[perm]) == run_score(outputs)


@PROPERTY
@given(outputs=planted_outputs())
def test_duplicating_outputs_keeps_ams_and_ums_numerator(outputs):
    once, twice = run_score(outputs), run_score(np.concatenate([outputs, outputs]))
    n = len(outputs)
    for pool_once, pool_twice in ((once, twice), (once["nonmember"], twice["nonmember"])):
        assert pool_twice["ams"] == pool_once["ams"]
        for band in BAND_NAMES:
            assert round(pool_twice["ums"][band] * 2 * n) == round(pool_once["ums"][band] * n)


@PROPERTY
@given(outputs=planted_outputs(), j=st.integers(0, 39))
def test_adding_a_nonmember_image_never_raises_an_extraction_count(outputs, j):
    before = run_score(outputs)
    after = run_score(np.concatenate([outputs, NONMEMBERS[j : j + 1]]))
    for key in ("calibrated_extracted", "gu_unique"):
        assert after[key] <= before[key]
    for delta in before["extracted"]:
        assert after["extracted"][delta] <= before["extracted"][delta]


# --- calibration ------------------------------------------------------------------------------


def test_calibrated_bands_follow_the_nonmember_quantiles():
    rng = np.random.default_rng(4)
    sigma = np.linspace(1, 30, 200)[:, None, None, None]  # lookalikes from near-copy to distant
    noisy = MEMBERS[np.arange(200) % 60] + rng.normal(0, 1, (200, RES, RES, 3)) * sigma
    nonmembers = np.clip(noisy.round(), 0, 255).astype(np.uint8)
    bands = calibrate_bands(MEMBERS, nonmembers)
    flat = nonmembers.reshape(200, -1).astype(np.float64) / 255
    base = MEMBERS.reshape(60, -1).astype(np.float64) / 255
    nearest = np.sqrt(((flat[:, None] - base[None]) ** 2).mean(-1)).min(1)
    lo = 0.0
    for name, q in (("high", 0.001), ("mid", 0.01), ("low", 0.05)):
        # faiss works in float32: near-copy distances agree with float64 to about 1e-5.
        assert bands[name]["lo"] == lo
        assert bands[name]["hi"] == pytest.approx(np.quantile(nearest, q), abs=2e-5)
        rate = np.mean((nearest >= lo) & (nearest < bands[name]["hi"]))
        assert bands[name]["false_match_rate"] == pytest.approx(rate, abs=1 / 200)
        lo = bands[name]["hi"]


def test_write_bands_keeps_the_hand_written_card(tmp_path):
    card = dataset_card("celeba")
    copy = tmp_path / "celeba.toml"
    copy.write_text(card.path.read_text())
    card = dataclasses.replace(card, path=copy)
    entry = {"calibrated_on": {"scale": "5k", "members": 5, "nonmembers": 2}, **BANDS}
    write_bands(card, 32, entry)
    write_bands(card, 64, entry)
    text = copy.read_text()
    parsed = tomllib.loads(text)
    assert text.count(CALIBRATED_MARKER) == 1
    assert parsed["metrics"]["deltas"] == dataset_card("celeba").metrics["deltas"]
    assert parsed["metrics"]["bands"]["32"]["mid"] == BANDS["mid"]
    assert {"32", "64"} <= set(parsed["metrics"]["bands"])


# --- the evaluate command -----------------------------------------------------------------------


def evaluate(*argv: str) -> int:
    from bench.cli.evaluate import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["evaluate", *argv])
    return args.func(args)


def save_pngs(folder, images) -> None:
    folder.mkdir(exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


@pytest.fixture
def no_data(monkeypatch):
    """The error paths must fail before any CelebA data is needed."""
    monkeypatch.delenv("BENCH_DATA", raising=False)


def test_evaluate_unknown_scale(tmp_path, no_data):
    with pytest.raises(BenchError, match="unknown scale '3k'.*valid: .*1k"):
        evaluate("--samples", str(tmp_path), "--scale", "3k")


def test_evaluate_empty_folder(tmp_path, no_data):
    with pytest.raises(BenchError, match="no PNG or JPEG images in"):
        evaluate("--samples", str(tmp_path), "--scale", "1k")


def test_evaluate_mixed_sizes(tmp_path, no_data):
    save_pngs(tmp_path, [MEMBERS[0], np.zeros((32, 32, 3), np.uint8)])
    with pytest.raises(BenchError, match=r"mixes image sizes \(16×16 in 000.png, 32×32 in 001.png"):
        evaluate("--samples", str(tmp_path), "--scale", "1k")


def test_evaluate_unreadable_image(tmp_path, no_data):
    save_pngs(tmp_path, [MEMBERS[0]])
    (tmp_path / "001.png").write_bytes(b"not an image")
    with pytest.raises(BenchError, match="cannot read .*001.png"):
        evaluate("--samples", str(tmp_path), "--scale", "1k")


def test_evaluate_bad_npz(tmp_path, no_data):
    path = tmp_path / "samples.npz"
    np.savez(path, np.zeros((2, 3, 16, 16), np.float32))
    with pytest.raises(BenchError, match="expected a uint8 N×H×W×3"):
        evaluate("--samples", str(path), "--scale", "1k")


def test_samples_are_read_as_they_are(tmp_path):
    path = tmp_path / "samples.npz"
    np.savez(path, np.zeros((3, 32, 32, 3), np.uint8))
    assert load_samples(path).shape == (3, 32, 32, 3)


@pytest.fixture
def known_members(monkeypatch):
    """The 1k card's members and non-members replaced by the module's small arrays."""
    import bench.metrics.evaluate

    def subset(images: np.ndarray, prefix: str) -> Subset:
        files = [f"{prefix}{i:03d}.jpg" for i in range(len(images))]
        return Subset(files, images, np.ones(len(images), np.int64), [])

    monkeypatch.setattr(bench.metrics.evaluate, "members", lambda card, root: subset(MEMBERS, "m"))
    monkeypatch.setattr(
        bench.metrics.evaluate, "nonmembers", lambda card, root: subset(NONMEMBERS, "n")
    )


def test_evaluate_json_is_one_object_with_per_image_results(tmp_path, known_members, capsys):
    save_pngs(tmp_path / "samples", [MEMBERS[0], MEMBERS[1], NONMEMBERS[0]])
    code = evaluate(
        "--samples",
        str(tmp_path / "samples"),
        "--scale",
        "1k",
        "--json",
        "--csv",
        str(tmp_path / "images.csv"),
        "--data-root",
        str(tmp_path),
    )
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == 0
    assert set(result) == {
        "model",
        "n_members",
        "n_nonmembers",
        "preprocessing",
        "n_outputs",
        "ams",
        "ums",
        "hit_rate",
        "extracted",
        "calibrated_extracted",
        "gu_fraction",
        "gu_unique",
        "nearest_median",
        "nearest_p95",
        "members_hit",
        "nonmember",
        "bands",
        "per_image",
    }
    assert result["n_outputs"] == 3
    assert result["extracted"]["0.05"] == 2 and result["nonmember"]["extracted"]["0.05"] == 1
    # Each image: its nearest member, the distance and the band; the copies are high-band hits.
    first, second = result["per_image"][:2]
    assert (first["sample"], first["nearest_member"], first["l2"], first["band"]) == (
        "000.png",
        "m000.jpg",
        0.0,
        "high",
    )
    assert second["nearest_member"] == "m001.jpg"
    rows = (tmp_path / "images.csv").read_text().splitlines()
    assert rows[0] == "sample,nearest_member,l2,band" and rows[1] == "000.png,m000.jpg,0.0,high"
    # The preprocessing the members expect is stated (on stderr, stdout being the JSON).
    assert "cropped to the square at left 0.08427" in captured.err
    assert result["preprocessing"]["crop"] == "none" and not result["preprocessing"]["resized"]


def test_evaluate_announces_a_resize_and_crops_full_frames(tmp_path, known_members, capsys):
    from bench.cards import dataset_card
    from bench.data.preprocess import preprocess

    big = np.stack([np.asarray(Image.fromarray(m).resize((64, 64))) for m in MEMBERS[:2]])
    save_pngs(tmp_path / "big", big)
    assert evaluate("--samples", str(tmp_path / "big"), "--scale", "1k", "--data-root", ".") == 0
    out, err = capsys.readouterr()
    assert "resizing the 64×64 images to 16×16" in err
    assert "crop none, resized, scored at 16×16" in out
    # Full 178×218 frames: refused without --crop card, scored as the members were with it.
    frames = np.random.default_rng(0).integers(0, 256, (2, 218, 178, 3), dtype=np.uint8)
    save_pngs(tmp_path / "frames", frames)
    with pytest.raises(BenchError, match="not square; .* pass --crop card"):
        evaluate("--samples", str(tmp_path / "frames"), "--scale", "1k", "--data-root", ".")
    crop = dataset_card("celeba").crop
    expected = np.stack([preprocess(Image.fromarray(f), crop, RES) for f in frames])
    import bench.metrics.evaluate as ev

    prepared, done = ev.prepare(frames, ev.evaluation_model(scale="1k"), "card")
    assert done["crop"] == "card" and done["resized"]
    np.testing.assert_array_equal(prepared, expected)


def test_evaluate_takes_a_model_by_name(tmp_path, known_members, capsys):
    save_pngs(tmp_path / "s", [MEMBERS[0]])
    argv = ["--samples", str(tmp_path / "s"), "--model", "celeba-1k-cpu", "--json"]
    assert evaluate(*argv, "--data-root", ".") == 0
    assert json.loads(capsys.readouterr().out)["model"] == "celeba-1k-cpu"
    with pytest.raises(BenchError, match="is scale 1k, not --scale 64"):
        evaluate(*argv, "--scale", "64")


def test_canary_metrics_score_the_repeated_members_alone() -> None:
    from bench.data.subset import Subset
    from bench.metrics.tiers import canary_metrics

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    counts = np.array([4, 4, 1, 1, 1, 1, 1, 1, 1, 1])
    plain = Subset([f"{i}.jpg" for i in range(10)], images, np.ones(10, dtype=np.int64), [""] * 10)
    assert canary_metrics(images, plain, BANDS, [0.05]) is None
    duplicated = Subset(plain.files, images, counts, plain.captions)
    # Outputs copy one canary and three singletons: only the canary counts here.
    outputs = images[[0, 0, 2, 3, 4]]
    k = canary_metrics(outputs, duplicated, BANDS, [0.05])
    assert k is not None and len(k["tiers"]) == 1
    tier = k["tiers"][0]
    assert (tier["n"], tier["times"]) == (2, 4)
    assert tier["extracted"] == {"0.05": 1}
    assert tier["ums"]["high"] == pytest.approx(1 / 5)
    assert tier["hit_rate"]["high"] == pytest.approx(1 / 2)
    assert k["lowest_tier_reached"] == 4


def test_ladder_metrics_read_the_lowest_tier_reached() -> None:
    from bench.data.subset import Subset
    from bench.metrics.tiers import canary_metrics

    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    counts = np.array([64, 64, 16, 16, 4, 4, 1, 1, 1, 1, 1, 1])
    ladder = Subset([f"{i}.jpg" for i in range(12)], images, counts, [""] * 12)
    # Copies of both ×64 members and one ×16 member; nothing of the ×4 tier.
    k = canary_metrics(images[[0, 1, 2, 6]], ladder, BANDS, [0.05])
    assert [t["times"] for t in k["tiers"]] == [64, 16, 4]
    assert [t["extracted"]["0.05"] for t in k["tiers"]] == [2, 1, 0]
    assert k["lowest_tier_reached"] == 16


def test_evaluate_scales_16_bit_pngs_instead_of_clipping(tmp_path, no_data):
    """Pillow opens a 16-bit greyscale PNG as I;16, and convert("RGB") clipped 99% of it to 255."""
    grey = np.linspace(0, 255, 16 * 16).reshape(16, 16).round().astype(np.uint8)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    images = load_samples(tmp_path)
    assert np.array_equal(images[0], np.repeat(grey[..., None], 3, axis=-1))


def test_evaluate_refuses_32_bit_float_images(tmp_path, no_data):
    Image.fromarray(np.zeros((16, 16), np.float32)).save(tmp_path / "f.tiff")
    (tmp_path / "f.tiff").rename(tmp_path / "f.png")
    with pytest.raises(BenchError, match="range is not fixed"):
        load_samples(tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "device", "loop"])
def test_evaluate_refuses_a_fifo_device_or_loop_without_hanging(tmp_path, no_data, kind):
    import os

    path = tmp_path / "000.png"
    {"fifo": lambda: os.mkfifo(path), "device": lambda: path.symlink_to("/dev/zero")}.get(
        kind, lambda: path.symlink_to(path)
    )()
    with pytest.raises(BenchError, match="000.png"):
        load_samples(tmp_path)


def crafted_npz(path, shape=(10**13, 16, 16, 3)):
    """An .npz whose one member's header declares ``shape`` but holds a few bytes."""
    import io
    import zipfile

    from numpy.lib import format as npy_format

    header = io.BytesIO()
    npy_format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", header.getvalue() + b"\\0" * 64)
    return path


def test_evaluate_refuses_an_absurd_header_before_allocating(tmp_path, no_data):
    """A header declaring 10^13 images made numpy ask for 6.8 PiB before finding the file short."""
    path = crafted_npz(tmp_path / "samples.npz")
    with pytest.raises(BenchError, match=r"declares uint8 \(10000000000000, 16, 16, 3\)"):
        evaluate("--samples", str(path), "--scale", "1k")


def test_evaluate_names_an_npy_named_npz(tmp_path, no_data):
    path = tmp_path / "samples.npz"
    with path.open("wb") as f:
        np.save(f, MEMBERS[:2])
    with pytest.raises(BenchError, match="cannot read .*samples.npz as .npz \\(BadZipFile"):
        evaluate("--samples", str(path), "--scale", "1k")
