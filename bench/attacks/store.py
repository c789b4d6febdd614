"""Run storage under BENCH_HOME: output shards and cached preparation, resumable and atomic.

Shards are written as they are produced, so a killed run keeps every finished shard and the same
command resumes from the first missing one; preparation (SIDE's classifier; its synthetic set is
in the sample pool) is cached by key so a λ sweep or a resumed run does not pay for it twice, and
while it is made its training keeps a resumable state beside it (``state_file``), so an interrupt
costs at most the steps since the last save.
Each shard records the model evaluations it cost, so the cost of a resumed run is still the cost
of the whole run. A shard or cached file that no longer loads, holds arrays of the wrong shape
or type, or does not match the digest it was written with (``bench.utils.digest``), is removed
with a notice and made again. Temporary files a killed run left in the cell
folder are removed when the cell is reopened under its lock (``sweep_temporaries``).

A store may hold the model's sample pool (``bench.zoo.pool``), which unguided draws read and fill
(``bench.attacks.generation``). Its ledger (``pool-rank<r>.json``, one per process) names each pool
batch the cell reused and each it made, kept across resumes, so the record can say what the cell
reused and what it ran although its cost is what it would pay alone.

A store may also have donors: runs of the same cell (weights, card version, parameters, seed and
rounding variant) at other budgets (``bench.records.RunKey.other_budgets``). For an attack whose
outputs are drawn one shard at a time in a fixed order (``Attack.prefix_valid``), a donor's shard
``i`` is the shard this run would write, so a budget curve after a grid cell takes the cell's shards
instead of guiding them again; the ledger names them (``adopted``) and the cost still charges them.

In a data-parallel job (``bench.utils.parallel``) every process opens the same store. Each writes
only the shards it owns; cached preparation is made by the main process while the others wait at a
barrier and then read it, so it is made once and every process uses the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from pydantic import BaseModel
from safetensors.torch import load_file, save_file

from bench.attacks.resumable import StateFile, state_path
from bench.errors import BenchError
from bench.utils.arrays import check_images, read_npz
from bench.utils.atomic import sweep_temporaries, write_atomic, write_json_atomic
from bench.utils.cachefiles import load_cached
from bench.utils.cellfiles import LedgerFile, TensorsMeta, WallFile
from bench.utils.digest import check_digest, sha256, with_digest
from bench.utils.parallel import Ranks, current_ranks
from bench.utils.schema import parse_cache
from bench.utils.writefaults import make_folder
from bench.zoo.pool import ModelPool

SHARD_FIELDS = ("images", "unet", "classifier")
WALL_FILE = "wall.json"
LEDGER_GLOB = "pool-rank*.json"
SHARD_GLOB = "shard-*.npz"
LEDGER_KINDS = ("made", "reused", "adopted")
T = TypeVar("T")


def shard_name(i: int) -> str:
    return f"shard-{i:05d}.npz"


def shard_indices(folder: Path) -> set[int]:
    """The indices of the shard files in ``folder`` (finished or not: writes are atomic)."""
    if not folder.is_dir():
        return set()
    return {int(p.stem[6:]) for p in folder.glob(SHARD_GLOB) if p.stem[6:].isdigit()}


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
    check_digest(shard, path.name)  # well-formed, yet other pixels: not the shard that was made
    return shard


class RunStore:
    def __init__(
        self,
        root: Path,
        prep_root: Path | None = None,
        ranks: Ranks | None = None,
        resolution: int | None = None,
        pool: ModelPool | None = None,
        donors: tuple[tuple[int, Path], ...] = (),
    ) -> None:
        self.root = root
        self.prep_root = prep_root or root / "prep"
        self.ranks = ranks or current_ranks()
        self.resolution = resolution  # checked in every shard read, where known
        self.pool = pool  # None: unguided draws are sampled for this store alone
        self.donors = donors  # (budget, folder) of this cell's runs at other budgets
        self._ledger: dict[str, set[tuple[int, ...]]] | None = None
        self._clock: float | None = None  # this attempt's last banked moment (``start_clock``)
        make_folder(self.root)

    def sweep_temporaries(self) -> int:
        """Remove the temporary files a killed run left in the cell folder (``sweep_temporaries``);
        call it holding the cell's lock."""
        return sweep_temporaries(self.root)

    def _read_shard(self, path: Path) -> dict[str, np.ndarray]:
        return read_shard(path, self.resolution)

    # --- output shards --------------------------------------------------------------------
    def shard_path(self, i: int) -> Path:
        return self.root / shard_name(i)

    def has_shard(self, i: int) -> bool:
        """Whether shard ``i`` is finished and loads (a corrupt one is removed, to be remade)."""
        return load_cached(self.shard_path(i), self._read_shard, "output shard") is not None

    def clear_outputs(self) -> None:
        """Remove every output shard (preparation stays), so the next run starts from shard 0."""
        for path in [*self.root.glob(SHARD_GLOB), *self.root.glob(LEDGER_GLOB)]:
            path.unlink()
        (self.root / WALL_FILE).unlink(missing_ok=True)
        self._ledger = None

    def start_clock(self) -> None:
        """Start timing this attempt's attack. From here every shard and cached preparation
        written also banks the seconds since the last into ``wall.json``, so an attempt that is
        interrupted (killed, a full disk) keeps the time of the work it saved: the resumed run's
        record once said 57.2 s for outputs that took 102.7 s uninterrupted."""
        self._clock = time.monotonic()

    def stop_clock(self) -> float:
        """Bank the seconds since the last write and return what the outputs cost in all."""
        return self._bank_wall()

    def _bank_wall(self) -> float:
        if self._clock is None or not self.ranks.is_main:
            return 0.0
        now = time.monotonic()
        spent, self._clock = now - self._clock, now
        return self.add_wall(spent)

    def add_wall(self, seconds: float) -> float:
        """Add one run's seconds to the time these outputs have cost and return the total.

        As with the evaluations each shard records, a run that resumes (or finds every shard
        made) reports what the outputs cost in all, not the seconds it spent itself: a rerun
        once reported "0.0 s wall" for outputs that took minutes.
        """
        path = self.root / WALL_FILE
        spent = load_cached(
            path,
            lambda p: parse_cache(WallFile, json.loads(p.read_text())).seconds,
            "wall-time file",
        )
        total = (spent or 0.0) + seconds
        write_json_atomic(path, {"seconds": total})
        return total

    def write_shard(
        self, i: int, images: np.ndarray, unet: int, classifier: int = 0, **extra: np.ndarray
    ) -> None:
        def writer(p: Path) -> None:
            with p.open("wb") as f:
                arrays = dict(images=images, unet=np.int64(unet), classifier=np.int64(classifier))
                np.savez(f, **with_digest({**arrays, **extra}, shard_name(i)))

        write_atomic(self.shard_path(i), writer, images.nbytes)
        self._forget_adopted(i)  # a shard remade here (the adopted one was damaged) is run here
        self._bank_wall()

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

    def adopt_shard(self, i: int, length: int, labels: np.ndarray | None = None) -> bool:
        """Take shard ``i`` from a donor instead of making it; False where none holds it.

        A donor's shard counts only with ``length`` images (a shorter last shard of a smaller
        run was denoised as a smaller batch, which rounds differently) and, where the outputs
        are guided towards labels, the same labels: a check that the donor drew what this run
        would. The file is hard-linked where the file system allows, else copied.
        """
        target = self.shard_path(i)
        for budget, folder in self.donors:
            source = folder / target.name
            shard = load_cached(source, self._read_shard, "output shard")
            if shard is None or len(shard["images"]) != length:
                continue
            held = shard.get("labels")
            if (held is None) != (labels is None) or (
                labels is not None and not np.array_equal(held, labels)
            ):
                continue
            try:
                os.link(source, target)
            except FileExistsError:
                return True  # another process of this job took it first
            except OSError:
                write_atomic(
                    target, lambda p, s=source: shutil.copyfile(s, p), source.stat().st_size
                )
            unet, classifier = int(shard["unet"]), int(shard["classifier"])
            self._note("adopted", (budget, i, length, unet, classifier))
            return True
        return False

    # --- the pool's ledger -----------------------------------------------------------------
    def _ledger_path(self) -> Path:
        return self.root / f"pool-rank{self.ranks.rank}.json"

    def note_pooled(
        self, seed: int, index: int, length: int, evaluations: int, reused: bool, charged: bool
    ) -> None:
        """Record that pool batch (seed, index, length) was reused or made by this cell, with its
        UNet evaluations and whether the attack's cost charges them (a diagnostic draw is not)."""
        kind = "reused" if reused else "made"
        self._note(kind, (int(seed), int(index), int(length), int(evaluations), int(charged)))

    def _entries(self) -> dict[str, set[tuple[int, ...]]]:
        if self._ledger is None:
            self._ledger = _read_ledger(self._ledger_path()) or {k: set() for k in LEDGER_KINDS}
        return self._ledger

    def _note(self, kind: str, entry: tuple[int, ...]) -> None:
        ledger = self._entries()
        if entry not in ledger[kind]:
            ledger[kind].add(entry)
            self._write_ledger()

    def _forget_adopted(self, i: int) -> None:
        if not self._ledger_path().exists() and self._ledger is None:
            return
        ledger = self._entries()
        stale = {e for e in ledger["adopted"] if e[1] == i}
        if stale:
            ledger["adopted"] -= stale
            self._write_ledger()

    def _write_ledger(self) -> None:
        write_json_atomic(
            self._ledger_path(), {k: sorted(map(list, v)) for k, v in self._entries().items()}
        )

    def pool_use(self, unet_evaluations: int) -> dict[str, Any]:
        """What the cell took instead of running: the pool batches it reused, as ``[seed,
        first, last]`` runs of batch indices, the shards it adopted from its runs at other
        budgets, as ``[budget, first, last]`` runs of shard indices, and the UNet evaluations
        it ran, ``unet_evaluations`` (its cost) less those of the reused batches it charges and
        of the adopted shards. A batch this cell made (in this run, an earlier interrupted one,
        or another process of its job) is never counted as reused."""
        made: set[tuple[int, int, int]] = set()
        reused: dict[tuple[int, int, int], tuple[int, int]] = {}
        adopted: dict[int, tuple[int, int]] = {}  # shard index -> (donor budget, UNet evals)
        for path in sorted(self.root.glob(LEDGER_GLOB)):
            ledger = _read_ledger(path) or {k: set() for k in LEDGER_KINDS}
            made |= {e[:3] for e in ledger["made"]}
            reused.update({e[:3]: e[3:] for e in ledger["reused"]})
            adopted.update({e[1]: (e[0], e[3]) for e in ledger["adopted"]})
        kept = {k: v for k, v in reused.items() if k not in made}
        saved = sum(evaluations for evaluations, charged in kept.values() if charged)
        saved += sum(evaluations for _, evaluations in adopted.values())
        if saved > unet_evaluations:  # each entry is well-formed, together they cannot be true
            raise BenchError(
                f"the pool ledgers under {self.root} claim {saved:,} UNet evaluations saved of "
                f"the {unet_evaluations:,} the attack cost, so they were altered; remove that "
                "folder and run the same command again to remake the cell"
            )
        return {
            "reused": _runs(sorted(k[:2] for k in kept)),
            "adopted": _runs(sorted((budget, i) for i, (budget, _) in adopted.items())),
            "unet_evaluations_run": unet_evaluations - saved,
        }

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
            self._bank_wall()
            return arrays

        def read(p: Path) -> dict[str, np.ndarray]:
            arrays = read_npz(p)
            if check is not None:
                check(arrays)
            return arrays

        return self._made_once(
            lambda: load_cached(path, read, "cached preparation"), make_and_write
        )

    def state_file(self, key: str, what: str) -> StateFile:
        """Where a resumable preparation step keyed ``key`` keeps its state while it runs."""
        return StateFile(state_path(self.prep_root, key), what)

    def cached_tensors(
        self,
        key: str,
        make: Callable[[], tuple[dict[str, torch.Tensor], dict]],
        check: Callable[[dict[str, torch.Tensor]], object] | None = None,
        *,
        schema: type[BaseModel],
    ) -> tuple[dict[str, torch.Tensor], dict]:
        """``make()``'s tensors and statistics, cached under ``key``; ``check`` (raising
        ``ValueError``) tells a cached state that no longer fits its model, which is made again,
        as is one whose tensors are not those its metadata names (``TensorsMeta``) or whose
        statistics ``schema`` refuses: a cache claiming 0 clusters once reached SIDE's record."""
        path = self.prep_root / f"{key}.safetensors"
        meta_path = self.prep_root / f"{key}.json"

        def read(p: Path) -> tuple[dict[str, torch.Tensor], dict]:
            held = parse_cache(TensorsMeta, meta_path.read_bytes())
            if sha256(p) != held.sha256:
                raise ValueError(f"its tensors are not those {meta_path.name} was written for")
            stats = parse_cache(schema, held.stats).model_dump()
            tensors = load_file(str(p))
            if check is not None:
                check(tensors)
            return tensors, stats

        def make_and_write() -> tuple[dict[str, torch.Tensor], dict]:
            tensors, meta = make()
            write_atomic(
                path,
                lambda p: save_file({k: v.contiguous() for k, v in tensors.items()}, str(p)),
                sum(v.nelement() * v.element_size() for v in tensors.values()),
            )
            write_json_atomic(meta_path, {"sha256": sha256(path), "stats": meta})
            self._bank_wall()
            return tensors, meta

        return self._made_once(
            lambda: load_cached(path, read, "cached model"),
            make_and_write,
        )


def _read_ledger(path: Path) -> dict[str, set[tuple[int, ...]]] | None:
    """A cell's ledger: for "made" and "reused" pool batches, entries of five integers (seed,
    index, length, evaluations, charged); for "adopted" shards, (donor budget, index, length,
    UNet evaluations, classifier evaluations). None when missing, and removed with a notice when
    damaged."""

    def load(p: Path) -> dict[str, set[tuple[int, ...]]]:
        ledger = parse_cache(LedgerFile, p.read_bytes())
        return {k: set(getattr(ledger, k)) for k in LEDGER_KINDS}

    return load_cached(path, load, "pool ledger")


def _runs(batches: list[tuple[int, int]]) -> list[list[int]]:
    """(key, index) pairs, sorted, as ``[key, first, last]`` runs of consecutive indices (the
    key a pool batch's seed or an adopted shard's donor budget)."""
    runs: list[list[int]] = []
    for seed, index in batches:
        if runs and runs[-1][0] == seed and runs[-1][2] == index - 1:
            runs[-1][2] = index
        else:
            runs.append([seed, index, index])
    return runs
