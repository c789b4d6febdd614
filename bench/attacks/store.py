"""Run storage under BENCH_HOME: output shards and cached preparation, resumable and atomic.

Shards are written as they are produced, so a killed run keeps every finished shard and the same
command resumes from the first missing one; preparation (SIDE's synthetic set, its classifier) is
cached by key so a λ sweep or a resumed run does not pay for it twice. Each shard records the
model evaluations it cost, so the cost of a resumed run is still the cost of the whole run. A
shard or cached file that no longer loads, or holds arrays of the wrong shape or type, is removed
with a notice and made again. Temporary files a killed run left in the cell folder are removed
when the cell is reopened under its lock (``sweep_temporaries``).

In a data-parallel job (``bench.utils.parallel``) every process opens the same store. Each writes
only the shards it owns; cached preparation is made by the main process while the others wait at a
barrier and then read it, so it is made once and every process uses the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bench.errors import BenchError
from bench.utils.atomic import sweep_temporaries, write_atomic, write_json_atomic
from bench.utils.cachefiles import load_cached
from bench.utils.parallel import Ranks, current_ranks
from bench.utils.writefaults import make_folder

SHARD_FIELDS = ("images", "unet", "classifier")
WALL_FILE = "wall.json"
T = TypeVar("T")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read in full so that a damaged member fails its CRC check here."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def check_images(images: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    """``images`` when they are uint8 of ``shape`` (None: any length on that axis); a
    ``ValueError`` otherwise, which ``load_cached`` treats as a damaged cache."""
    ok = (
        images.dtype == np.uint8
        and images.ndim == len(shape)
        and all(want is None or got == want for got, want in zip(images.shape, shape))
        and images.size > 0
    )
    if not ok:
        want = "×".join("N" if d is None else str(d) for d in shape)
        raise ValueError(f"it holds {images.dtype} {images.shape}, not uint8 {want}")
    return images


def read_shard(path: Path, resolution: int | None = None) -> dict[str, np.ndarray]:
    """A shard's arrays, checked: N×R×R×3 uint8 images (R the run's resolution, where given),
    integer costs and one label per image, so a misshapen shard is remade, not concatenated."""
    shard = read_npz(path)
    missing = [k for k in SHARD_FIELDS if k not in shard]
    if missing:
        raise KeyError(f"no {', '.join(missing)} in the shard")
    images = check_images(shard["images"], (None, resolution, resolution, 3))
    for key in ("unet", "classifier"):
        if shard[key].shape != () or shard[key].dtype.kind not in "iu" or int(shard[key]) < 0:
            raise ValueError(f"its {key} cost is {shard[key].dtype} {shard[key].shape}")
    if "labels" in shard and shard["labels"].shape != (len(images),):
        raise ValueError(f"it holds {shard['labels'].shape} labels for {len(images)} images")
    return shard


class RunStore:
    def __init__(
        self,
        root: Path,
        prep_root: Path | None = None,
        ranks: Ranks | None = None,
        resolution: int | None = None,
    ) -> None:
        self.root = root
        self.prep_root = prep_root or root / "prep"
        self.ranks = ranks or current_ranks()
        self.resolution = resolution  # checked in every shard read, where known
        make_folder(self.root)

    def sweep_temporaries(self) -> int:
        """Remove the temporary files a killed run left in the cell folder (``sweep_temporaries``);
        call it holding the cell's lock."""
        return sweep_temporaries(self.root)

    def _read_shard(self, path: Path) -> dict[str, np.ndarray]:
        return read_shard(path, self.resolution)

    # --- output shards --------------------------------------------------------------------
    def shard_path(self, i: int) -> Path:
        return self.root / f"shard-{i:05d}.npz"

    def has_shard(self, i: int) -> bool:
        """Whether shard ``i`` is finished and loads (a corrupt one is removed, to be remade)."""
        return load_cached(self.shard_path(i), self._read_shard, "output shard") is not None

    def clear_outputs(self) -> None:
        """Remove every output shard (preparation stays), so the next run starts from shard 0."""
        for path in self.root.glob("shard-*.npz"):
            path.unlink()
        (self.root / WALL_FILE).unlink(missing_ok=True)

    def add_wall(self, seconds: float) -> float:
        """Add one run's seconds to the time these outputs have cost and return the total.

        As with the evaluations each shard records, a run that resumes (or finds every shard
        made) reports what the outputs cost in all, not the seconds it spent itself: a rerun
        once reported "0.0 s wall" for outputs that took minutes.
        """
        path = self.root / WALL_FILE
        spent = load_cached(
            path, lambda p: float(json.loads(p.read_text())["seconds"]), "wall-time file"
        )
        total = (spent or 0.0) + seconds
        write_json_atomic(path, {"seconds": total})
        return total

    def write_shard(
        self, i: int, images: np.ndarray, unet: int, classifier: int = 0, **extra: np.ndarray
    ) -> None:
        def writer(p: Path) -> None:
            with p.open("wb") as f:
                np.savez(
                    f, images=images, unet=np.int64(unet), classifier=np.int64(classifier), **extra
                )

        write_atomic(self.shard_path(i), writer, images.nbytes)

    def shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Shards 0, 1, … up to the first missing or corrupt one (which is removed)."""
        i = 0
        while (
            shard := load_cached(self.shard_path(i), self._read_shard, "output shard")
        ) is not None:
            yield shard
            i += 1

    def images(self) -> np.ndarray:
        shards = [s["images"] for s in self.shards()]
        if not shards:
            raise BenchError(f"no output shards under {self.root}")
        return np.concatenate(shards)

    def shard_cost(self) -> tuple[int, int]:
        unet = classifier = 0
        for s in self.shards():
            unet += int(s["unet"])
            classifier += int(s["classifier"])
        return unet, classifier

    # --- cached preparation ---------------------------------------------------------------
    def _made_once(self, load: Callable[[], T | None], make: Callable[[], T]) -> T:
        """``load()`` if cached, else ``make()``, which the main process alone runs: the others
        wait for it at a barrier and then load what it wrote."""
        if self.ranks.is_main:
            cached = load()
            made = cached if cached is not None else make()
            self.ranks.wait()
            return made
        self.ranks.wait()
        cached = load()
        if cached is None:
            raise BenchError(f"the main process left no cached preparation under {self.prep_root}")
        return cached

    def cached_arrays(
        self,
        key: str,
        make: Callable[[], dict[str, np.ndarray]],
        check: Callable[[dict[str, np.ndarray]], object] | None = None,
    ) -> dict[str, np.ndarray]:
        """``make()``'s arrays, cached under ``key``; ``check`` (raising ``ValueError``) says
        whether a cached file still has the shape its user needs, else it is made again."""
        path = self.prep_root / f"{key}.npz"

        def make_and_write() -> dict[str, np.ndarray]:
            arrays = make()

            def writer(p: Path) -> None:
                with p.open("wb") as f:
                    np.savez(f, **arrays)

            write_atomic(path, writer, sum(a.nbytes for a in arrays.values()))
            return arrays

        def read(p: Path) -> dict[str, np.ndarray]:
            arrays = read_npz(p)
            if check is not None:
                check(arrays)
            return arrays

        return self._made_once(
            lambda: load_cached(path, read, "cached preparation"), make_and_write
        )

    def cached_tensors(
        self,
        key: str,
        make: Callable[[], tuple[dict[str, torch.Tensor], dict]],
        check: Callable[[dict[str, torch.Tensor]], object] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict]:
        """``make()``'s tensors and JSON metadata, cached under ``key``; ``check`` (raising
        ``ValueError``) tells a cached state that no longer fits its model, which is made again."""
        path = self.prep_root / f"{key}.safetensors"
        meta_path = self.prep_root / f"{key}.json"

        def read(p: Path) -> tuple[dict[str, torch.Tensor], dict]:
            tensors, meta = load_file(str(p)), json.loads(meta_path.read_text())
            if not isinstance(meta, dict):
                raise ValueError(
                    f"{meta_path.name} holds a JSON {type(meta).__name__}, not an object"
                )
            if check is not None:
                check(tensors)
            return tensors, meta

        def make_and_write() -> tuple[dict[str, torch.Tensor], dict]:
            tensors, meta = make()
            write_atomic(
                path,
                lambda p: save_file({k: v.contiguous() for k, v in tensors.items()}, str(p)),
                sum(v.nelement() * v.element_size() for v in tensors.values()),
            )
            write_json_atomic(meta_path, meta)
            return tensors, meta

        return self._made_once(
            lambda: load_cached(path, read, "cached model"),
            make_and_write,
        )
