"""Run storage under BENCH_HOME: output shards and cached preparation, resumable and atomic.

Shards are written as they are produced, so a killed run keeps every finished shard and the same
command resumes from the first missing one; preparation (SIDE's synthetic set, its classifier) is
cached by key so a λ sweep or a resumed run does not pay for it twice. Each shard records the
model evaluations it cost, so the cost of a resumed run is still the cost of the whole run. A
shard or cached file that no longer loads is removed with a notice and made again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import write_atomic, write_json_atomic
from bench.cachefiles import load_cached
from bench.errors import BenchError

SHARD_FIELDS = ("images", "unet", "classifier")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read in full so that a damaged member fails its CRC check here."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def read_shard(path: Path) -> dict[str, np.ndarray]:
    shard = read_npz(path)
    missing = [k for k in SHARD_FIELDS if k not in shard]
    if missing:
        raise KeyError(f"no {', '.join(missing)} in the shard")
    return shard


class RunStore:
    def __init__(self, root: Path, prep_root: Path | None = None) -> None:
        self.root = root
        self.prep_root = prep_root or root / "prep"
        self.root.mkdir(parents=True, exist_ok=True)

    # --- output shards --------------------------------------------------------------------
    def shard_path(self, i: int) -> Path:
        return self.root / f"shard-{i:05d}.npz"

    def done_shards(self) -> int:
        """Number of consecutive finished shards from 0: where a resumed run starts."""
        return sum(1 for _ in self.shards())

    def clear_outputs(self) -> None:
        """Remove every output shard (preparation stays), so the next run starts from shard 0."""
        for path in self.root.glob("shard-*.npz"):
            path.unlink()

    def write_shard(
        self, i: int, images: np.ndarray, unet: int, classifier: int = 0, **extra: np.ndarray
    ) -> None:
        def writer(p: Path) -> None:
            with p.open("wb") as f:
                np.savez(
                    f, images=images, unet=np.int64(unet), classifier=np.int64(classifier), **extra
                )

        write_atomic(self.shard_path(i), writer)

    def shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Shards 0, 1, … up to the first missing or corrupt one (which is removed)."""
        i = 0
        while (shard := load_cached(self.shard_path(i), read_shard, "output shard")) is not None:
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
    def cached_arrays(
        self, key: str, make: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        path = self.prep_root / f"{key}.npz"
        cached = load_cached(path, read_npz, "cached preparation")
        if cached is not None:
            return cached
        arrays = make()
        write_atomic(path, lambda p: np.savez(p.open("wb"), **arrays))
        return arrays

    def cached_tensors(
        self, key: str, make: Callable[[], tuple[dict[str, torch.Tensor], dict]]
    ) -> tuple[dict[str, torch.Tensor], dict]:
        path = self.prep_root / f"{key}.safetensors"
        meta_path = self.prep_root / f"{key}.json"
        cached = load_cached(
            path, lambda p: (load_file(str(p)), json.loads(meta_path.read_text())), "cached model"
        )
        if cached is not None:
            return cached
        tensors, meta = make()
        write_atomic(
            path, lambda p: save_file({k: v.contiguous() for k, v in tensors.items()}, str(p))
        )
        write_json_atomic(meta_path, meta)
        return tensors, meta
