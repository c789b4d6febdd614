"""Reading the images a user brings to `bench evaluate`: a folder of PNG/JPEG files or an .npz.

Anyone can score any model's outputs this way, so every way the input can be wrong is answered
with a one-line message that names the file and says what to do, never a traceback.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from bench.errors import BenchError
from bench.utils.arrays import check_npz_headers
from bench.utils.imagefiles import regular_file, rgb8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_samples(path: Path, progress: bool = False) -> np.ndarray:
    """uint8 (N, H, W, 3) from a folder or an .npz, as they are: cropping and resizing to the
    members' preprocessing is ``bench.metrics.evaluate.prepare``'s, which says what it does."""
    path = Path(path)
    if path.is_dir():
        images = _read_folder(path, progress)
    elif path.is_file() and path.suffix.lower() == ".npz":
        images = _read_npz(path)
    elif not path.exists():
        raise BenchError(f"--samples {path} does not exist")
    else:
        raise BenchError(f"--samples {path} is neither a folder of PNG/JPEG images nor a .npz")
    return images


def _read_folder(folder: Path, progress: bool) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(
            f"no PNG or JPEG images in {folder}; point --samples at the folder of "
            "generated images or at an .npz holding them"
        )
    first = _open(files[0])
    out = np.empty((len(files), *first.shape), dtype=np.uint8)
    out[0] = first
    for i, file in enumerate(
        tqdm(
            files[1:],
            desc="reading samples",
            unit="img",
            leave=False,
            disable=not progress or len(files) < 1000,
        ),
        start=1,
    ):
        image = _open(file)
        if image.shape != first.shape:
            raise BenchError(
                f"{folder} mixes image sizes ({_size(first)} in {files[0].name}, {_size(image)} in "
                f"{file.name}); put one model's outputs, all the same size, in the folder"
            )
        out[i] = image
    return out


def _open(file: Path) -> np.ndarray:
    try:
        with Image.open(regular_file(file)) as image:
            return np.asarray(rgb8(image, file), dtype=np.uint8)
    except Image.DecompressionBombError as exc:  # Pillow refuses to decode it: far too many pixels
        why = " ".join(str(exc).split()).rstrip(".")
        raise BenchError(
            f"cannot read {file}: {why}; downscale it to the model's resolution or remove it "
            "from the folder"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise BenchError(
            f"cannot read {file} ({type(exc).__name__}); re-save it as PNG or remove "
            "it from the folder"
        ) from None


def _read_npz(path: Path) -> np.ndarray:
    try:
        check_npz_headers(path)
        with np.load(path) as archive:
            if not archive.files:
                raise BenchError(f"{path} holds no arrays; save the images with np.savez")
            images = archive[archive.files[0]]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BenchError(
            f"cannot read {path} as .npz ({type(exc).__name__}: {' '.join(str(exc).split())}); "
            "save the images with np.savez(path, images)"
        ) from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise BenchError(
            f"{path} holds {images.dtype} {images.shape}; expected a uint8 N×H×W×3 "
            "array (convert with (x * 255).round().astype(np.uint8) and NHWC order)"
        )
    if len(images) == 0:
        raise BenchError(f"{path} holds an empty array; there are no samples to score")
    return images


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}×{image.shape[0]}"
