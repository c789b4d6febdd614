"""Run storage under BENCH_HOME: output shards and cached preparation, resumable and atomic.

Shards are written as they are produced, so a killed run keeps every finished shard and the same
command resumes from the first missing one; preparation (SIDE's synthetic set, its classifier) is
cached by key so a λ sweep or a resumed run does not pay for it twice. Each shard records the
model evaluations it cost, so the cost of a resumed run is still the cost of the whole run. A
shard or cached file that no longer loads is removed with a notice and made again.

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
from bench.utils.atomic import write_atomic, write_json_atomic
from bench.utils.cachefiles import load_cached
from bench.utils.parallel import Ranks, current_ranks

SHARD_FIELDS = ("images", "unet", "classifier")
WALL_FILE = "wall.json"
T = TypeVar("T")


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
    def __init__(
        self, root: Path, prep_root: Path | None = None, ranks: Ranks | None = None
    ) -> None:
        self.root = root
        self.prep_root = prep_root or root / "prep"
        self.ranks = ranks or current_ranks()
        self.root.mkdir(parents=True, exist_ok=True)

    # --- output shards --------------------------------------------------------------------
    def shard_path(self, i: int) -> Path:
        return self.root / f"shard-{i:05d}.npz"

    def has_shard(self, i: int) -> bool:
        """Whether shard ``i`` is finished and loads (a corrupt one is removed, to be remade)."""
        return load_cached(self.shard_path(i), read_shard, "output shard") is not None

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
        self, key: str, make: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        path = self.prep_root / f"{key}.npz"

        def make_and_write() -> dict[str, np.ndarray]:
            arrays = make()
            write_atomic(path, lambda p: np.savez(p.open("wb"), **arrays))
            return arrays

        return self._made_once(
            lambda: load_cached(path, read_npz, "cached preparation"), make_and_write
        )

    def cached_tensors(
        self, key: str, make: Callable[[], tuple[dict[str, torch.Tensor], dict]]
    ) -> tuple[dict[str, torch.Tensor], dict]:
        path = self.prep_root / f"{key}.safetensors"
        meta_path = self.prep_root / f"{key}.json"

        def make_and_write() -> tuple[dict[str, torch.Tensor], dict]:
            tensors, meta = make()
            write_atomic(
                path, lambda p: save_file({k: v.contiguous() for k, v in tensors.items()}, str(p))
            )
            write_json_atomic(meta_path, meta)
            return tensors, meta

        return self._made_once(
            lambda: load_cached(
                path,
                lambda p: (load_file(str(p)), json.loads(meta_path.read_text())),
                "cached model",
            ),
            make_and_write,
        )
