"""A reader for CelebA's official layout, at any image size.

The reader is strict: the attribute, identity and partition files must name the same images, and
every error says which file is wrong, because a silently mis-aligned attribute row would poison
every caption and every identity-disjoint split built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import BenchError
from bench.utils.imagefiles import regular_file, rgb8

READER_VERSION = 1
IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
IDENTITY_FILE = "identity_CelebA.txt"
PARTITION_FILE = "list_eval_partition.txt"


@dataclass(frozen=True)
class CelebaIndex:
    """What the text files say about a root: one row per image, aligned by file name."""

    root: Path
    files: tuple[str, ...]
    attribute_names: tuple[str, ...]
    attributes: np.ndarray  # (N, 40) int8 in {-1, 1}
    identities: np.ndarray  # (N,) int64

    def rows(self, names: list[str]) -> np.ndarray:
        pos = {f: i for i, f in enumerate(self.files)}
        missing = [n for n in names if n not in pos]
        if missing:
            raise BenchError(
                f"{len(missing)} manifest image(s) are not in {self.root / ATTR_FILE} "
                f"(first: {missing[0]}); the root does not hold this subset"
            )
        return np.array([pos[n] for n in names], dtype=np.int64)


def _read_text(path: Path) -> str:
    """A list file's text: a regular file (a FIFO or ``/dev/zero`` would hang or fill memory,
    a link loop is named) in UTF-8 (plain ASCII, as CelebA ships them), else one line."""
    if not path.exists() and not path.is_symlink():
        raise BenchError(
            f"missing {path.name} in {path.parent}: the root is not in CelebA's layout"
        )
    try:
        return regular_file(path, "list file").read_bytes().decode("utf-8")
    except FileNotFoundError:  # a dangling link
        raise BenchError(
            f"{path} is a link to nothing: the root is not in CelebA's layout"
        ) from None
    except UnicodeDecodeError as exc:
        raise BenchError(
            f"{path} is not UTF-8 text (byte {exc.start}); restore CelebA's original file"
        ) from None
    except OSError as exc:
        raise BenchError(f"{path} cannot be read ({exc.strerror or exc})") from None


def _read_pairs(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise BenchError(f"{path}:{lineno}: expected '<file> <value>', got {line!r}")
        pairs[parts[0]] = parts[1]
    return pairs


def _is_int(text: str) -> bool:
    return text.isascii() and text.lstrip("-").isdigit() and len(text) < 19


def read_index(root: Path) -> CelebaIndex:
    """Parse and cross-check the attribute and identity files of a CelebA root."""
    attr_path = root / ATTR_FILE
    if not (root / IMAGE_DIR).is_dir():
        raise BenchError(f"missing {IMAGE_DIR}/ in {root}: the root is not in CelebA's layout")
    lines = _read_text(attr_path).splitlines()
    try:
        count = int(lines[0].strip())
    except (IndexError, ValueError):
        raise BenchError(f"{attr_path}: first line must be the image count") from None
    names = tuple(lines[1].split()) if len(lines) > 1 else ()
    if len(names) != 40:
        raise BenchError(f"{attr_path}: expected 40 attribute names, found {len(names)}")
    files, rows = [], []
    for lineno, line in enumerate(lines[2:], 3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 41 or any(v not in ("1", "-1") for v in parts[1:]):
            raise BenchError(f"{attr_path}:{lineno}: expected a file name and 40 values of ±1")
        files.append(parts[0])
        rows.append([int(v) for v in parts[1:]])
    if len(files) != count:
        raise BenchError(f"{attr_path}: header says {count} images but {len(files)} rows follow")
    identity = _read_pairs(root / IDENTITY_FILE)
    bad = next((f for f, v in identity.items() if not _is_int(v)), None)
    if bad is not None:
        raise BenchError(
            f"{root / IDENTITY_FILE}: the identity of {bad} is {identity[bad]!r}, not an integer"
        )
    if set(identity) != set(files):
        extra = sorted(set(identity) ^ set(files))
        raise BenchError(
            f"{IDENTITY_FILE} and {ATTR_FILE} disagree on {len(extra)} image(s) "
            f"(first: {extra[0]}); the root is incomplete or mixed"
        )
    return CelebaIndex(
        root=root,
        files=tuple(files),
        attribute_names=names,
        attributes=np.array(rows, dtype=np.int8).reshape(-1, 40),
        identities=np.array([int(identity[f]) for f in files], dtype=np.int64),
    )


def load_image(root: Path, name: str) -> Image.Image:
    path = root / IMAGE_DIR / name
    try:
        with Image.open(regular_file(path)) as im:
            im.load()
            return rgb8(im, path)
    except FileNotFoundError:
        raise BenchError(f"image {path} is listed in {ATTR_FILE} but missing on disk") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BenchError(f"image {path} is corrupt and cannot be decoded ({exc})") from None


@dataclass(frozen=True)
class CheckReport:
    root: Path
    images: int
    identities: int
    partition_rows: int | None
    image_size: tuple[int, int]
    supplied_scales: dict[str, bool]


def check_root(root: Path, scales: dict[str, int], eligible_members: int) -> CheckReport:
    """Verify a root end to end: files present, every image decodable, rows matching."""
    from tqdm import tqdm

    index = read_index(root)
    partition_path = root / PARTITION_FILE
    partition_rows = None
    if partition_path.exists() or partition_path.is_symlink():  # optional, but checked if there
        partition = _read_pairs(partition_path)
        if set(partition) != set(index.files):
            raise BenchError(f"{PARTITION_FILE} and {ATTR_FILE} disagree on the images listed")
        partition_rows = len(partition)
    on_disk = {p.name for p in (root / IMAGE_DIR).iterdir()}
    missing = [f for f in index.files if f not in on_disk]
    if missing:
        raise BenchError(
            f"{len(missing)} listed image(s) are missing on disk (first: {missing[0]})"
        )
    size = None
    for name in tqdm(index.files, desc="decoding images", unit="img", leave=False):
        im = load_image(root, name)
        size = size or im.size
    return CheckReport(
        root=root,
        images=len(index.files),
        identities=len(set(index.identities.tolist())),
        partition_rows=partition_rows,
        image_size=size or (0, 0),
        supplied_scales={s: n <= eligible_members for s, n in scales.items()},
    )
