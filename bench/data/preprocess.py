"""Crop, resize and cache CelebA images as uint8 arrays.

The crop is defined relative to the image size, so the official 178×218 files and the half-size
89×109 copies yield the same face region; the cache key includes everything that changes pixels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.atomic import write_atomic
from bench.cards import DatasetCard
from bench.data.celeba import READER_VERSION, load_image
from bench.data.manifests import manifest_digest
from bench.paths import bench_home

PREPROCESS_VERSION = 1


def crop_box(width: int, height: int, crop: dict[str, float]) -> tuple[int, int, int, int]:
    """Square box (left, top, right, bottom) from fractions of the image width and height."""
    left = int(round(crop["left"] * width))
    top = int(round(crop["top"] * height))
    size = int(round(crop["size"] * width))
    return left, top, left + size, top + size


def preprocess(image: Image.Image, crop: dict[str, float], resolution: int) -> np.ndarray:
    box = crop_box(*image.size, crop)
    return np.asarray(
        image.crop(box).resize((resolution, resolution), Image.Resampling.LANCZOS), dtype=np.uint8
    )


def cache_path(
    card: DatasetCard, names: list[str], resolution: int, source_size: tuple[int, int]
) -> Path:
    """Keyed by everything that changes pixels, the source size (full or half CelebA) included."""
    key = json.dumps(
        [
            card.name,
            manifest_digest(names),
            resolution,
            card.crop,
            list(source_size),
            READER_VERSION,
            PREPROCESS_VERSION,
        ],
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return bench_home() / "arrays" / f"{card.name}-{resolution}px-{len(names)}-{digest}.npy"


def load_images(card: DatasetCard, root: Path, names: list[str], resolution: int) -> np.ndarray:
    """uint8 (N, R, R, 3) for ``names``, read once and cached under BENCH_HOME."""
    path = cache_path(card, names, resolution, load_image(root, names[0]).size)
    if path.is_file():
        return np.load(path)
    out = np.empty((len(names), resolution, resolution, 3), dtype=np.uint8)
    for i, name in enumerate(
        tqdm(names, desc=f"preprocessing {resolution}px", unit="img", leave=False)
    ):
        out[i] = preprocess(load_image(root, name), card.crop, resolution)
    write_atomic(path, lambda p: np.save(p.open("wb"), out))
    return out
