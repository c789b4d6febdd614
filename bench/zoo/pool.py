"""One pool of unguided samples per model, so no cell pays twice for the same batch.

Carlini's outputs, SIDE's and side-ti's synthetic and held-out sets and the zoo's memorisation
samples are all unguided samples of one model, and batch ``i`` of seed ``s`` always comes from
generator (s, i) (``bench.zoo.sampling.batch_generator``). So carlini at seed s + 1 is, batch for
batch, SIDE's synthetic set of seed s; before the pool each was sampled on its own. Here every
unguided draw reads its batches from the pool and writes the ones it had to make, so the bytes a
cell scores are the bytes it would have sampled alone, and the second cell to need a batch runs no
UNet evaluation for it. Guided or captioned sampling is never pooled: its batches depend on the
attack's classifier or prompts.

A batch is keyed by everything that fixes its bytes: the weights (checkpoint digest), the sampler
class and its full config, the sampling steps, the resolution, the batch size its index counts in,
whether the UNet was compiled (compiled outputs differ from eager ones by rounding), the most
images one UNet call saw (``unet_batch``, where a card sets one below the batch: slices round
differently too), the seed, the index and the batch's length. The length is in the key because a
short batch is not a prefix of a full one: the UNet's batched kernels round differently by batch
size (measured: the first 16 of a DDIM batch of 64 differ from a batch of 16 by one grey level),
and an ancestral sampler (DDPM) draws each step's noise over the whole batch. The compute device
and torch's thread count are not in the key, as they are not in a run's output shards: a pool
filled on a GPU, or with other threads, serves a run that would have rounded differently, and each
record names its device and threads.

Layout: ``BENCH_HOME/pool/<digest[:16]>/<key[:16]>/seed<s>/batch-<i>-n<len>.npz``, with the key's
full description in ``key.json`` beside the seeds. Each batch is written atomically when it is made
(so a killed draw keeps every finished batch and resumes at the first missing one) with the
digest of its pixels and its place (``bench.utils.digest``), and one that no longer loads, holds
the wrong shape or does not match its digest is removed with a notice and made again. Removing
``BENCH_HOME/pool`` (or one model's folder in it) only costs the time to sample again. Two cells
that need the same missing batch at once (a local grid) may both make it; each write is whole,
and the last rename wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from diffusers import SchedulerMixin

from bench.utils.arrays import check_images, read_npz
from bench.utils.atomic import sweep_temporaries, write_atomic, write_json_atomic
from bench.utils.cachefiles import load_cached
from bench.utils.digest import check_digest, with_digest
from bench.utils.paths import bench_home
from bench.zoo.denoiser import Denoiser
from bench.zoo.sampling import BATCH

# A batch's temporary file lives for the milliseconds of its write; one an hour old was left by a
# killed process (the pool has no lock to tell a live writer, so age does).
STALE_TEMPORARY_SECONDS = 3_600.0

Sampler = Callable[[list[int]], Iterator[np.ndarray]]


@dataclass(frozen=True)
class Drawn:
    """One batch of a pooled draw: its index, its uint8 images, and whether the pool held it."""

    index: int
    images: np.ndarray
    reused: bool


def batch_lengths(n: int, batch: int) -> list[int]:
    """The length of each batch of a draw of ``n`` in batches of ``batch`` (the last may be
    short)."""
    return [min(batch, n - i * batch) for i in range(-(-n // batch))]


class SamplePool:
    """The pool of one model's unguided batches under one sampling setting (see the module)."""

    def __init__(
        self,
        root: Path,
        digest: str,
        sampler: dict[str, Any],
        steps: int,
        resolution: int,
        batch: int,
        compiled: bool = False,
        unet_batch: int | None = None,
    ) -> None:
        self.key = {
            "checkpoint_sha256": digest,
            "sampler": sampler,
            "steps": int(steps),
            "resolution": int(resolution),
            "batch": int(batch),
            "compiled": bool(compiled),
        }
        if unet_batch is not None and unet_batch < batch:  # absent: the key (and folder) of before
            self.key["unet_batch"] = int(unet_batch)
        text = json.dumps(self.key, sort_keys=True, default=str)
        self.folder = root / digest[:16] / hashlib.sha256(text.encode()).hexdigest()[:16]
        self.resolution = int(resolution)
        self.batch = int(batch)
        self.root = root
        self._swept: set[int] = set()

    def at_steps(self, steps: int) -> SamplePool:
        """The same weights' pool under the same sampler in ``steps`` steps (SIDE's synthetic set
        may be drawn in fewer steps than its outputs)."""
        k = self.key
        return SamplePool(
            self.root,
            k["checkpoint_sha256"],
            k["sampler"],
            steps,
            k["resolution"],
            k["batch"],
            k["compiled"],
            k.get("unet_batch"),
        )

    def path(self, seed: int, index: int, length: int) -> Path:
        return self.folder / f"seed{seed}" / f"batch-{index:05d}-n{length}.npz"

    def read(self, seed: int, index: int, length: int) -> np.ndarray | None:
        """The pooled batch, checked to be ``length`` images at the pool's resolution; None when
        it is missing or damaged (a damaged one is removed with a notice)."""

        def load(p: Path) -> np.ndarray:
            shape = (length, self.resolution, self.resolution, 3)
            arrays = read_npz(p)
            images = check_images(arrays["images"], shape)
            check_digest(arrays, _identity(p))
            return images

        return load_cached(self.path(seed, index, length), load, "pooled sample batch")

    def write(self, seed: int, index: int, images: np.ndarray) -> None:
        described = self.folder / "key.json"
        if not described.is_file():  # what the folder's hash stands for, for a person clearing it
            write_json_atomic(described, json.loads(json.dumps(self.key, default=str)))

        path = self.path(seed, index, len(images))

        def writer(p: Path) -> None:
            with p.open("wb") as f:
                np.savez(f, **with_digest({"images": images}, _identity(path)))

        write_atomic(path, writer, images.nbytes)

    def draw(self, n: int, seed: int, batches: Sequence[int], sample: Sampler) -> Iterator[Drawn]:
        """The listed batches of a draw of ``n`` at ``seed``, in order, one at a time (memory
        holds one batch, whatever ``n``): each read from the pool, or made by ``sample`` and
        written to it before it is yielded.

        ``sample(indices)`` yields those batches of the draw in order (``ModelView.sample`` with
        ``batches=indices``); it is started once, for every batch the pool lacks, so one progress
        bar covers the sampling, and again only for a pooled batch found damaged.
        """
        lengths = batch_lengths(n, self.batch)
        self._sweep(seed)
        held = {i for i in batches if self.path(seed, i, lengths[i]).is_file()}
        fresh = sample([i for i in batches if i not in held])
        for i in batches:
            images = self.read(seed, i, lengths[i]) if i in held else None
            if images is not None:
                yield Drawn(i, images, reused=True)
                continue
            images = next(fresh) if i not in held else next(sample([i]))
            self.write(seed, i, images)
            yield Drawn(i, images, reused=False)

    def missing_bytes(self, draws: list[tuple[int, int]]) -> int:
        """Disk the batches of ``draws`` ((seed, images) each) that the pool lacks will take."""
        return self.missing_images(draws) * self.resolution * self.resolution * 3

    def missing_images(self, draws: list[tuple[int, int]]) -> int:
        """Images of ``draws`` ((seed, images) each) in batches the pool lacks: what they still
        cost to sample. It lists the batches the pool holds rather than probing every index, so
        a budget no disk could hold is priced at once."""
        missing = 0
        for seed, n in draws:
            count = -(-n // self.batch)
            last = n - (count - 1) * self.batch
            held = 0
            for path in (self.folder / f"seed{seed}").glob("batch-*-n*.npz"):
                index, _, length = path.stem.removeprefix("batch-").partition("-n")
                if not (index.isdigit() and length.isdigit()):
                    continue
                i, size = int(index), int(length)
                if i < count and size == (last if i == count - 1 else self.batch):
                    held += size
            missing += n - held
        return missing

    def _sweep(self, seed: int) -> None:
        """Remove temporaries a killed process left in the seed's folder, once per process."""
        folder = self.folder / f"seed{seed}"
        if seed not in self._swept and folder.is_dir():
            sweep_temporaries(folder, older_than=STALE_TEMPORARY_SECONDS)
        self._swept.add(seed)


def _identity(path: Path) -> str:
    """What a batch's digest binds it to: its pool key, seed, index and length (the path's last
    three parts), so a batch copied to another key, seed or index is not taken for that one."""
    return "/".join(path.parts[-3:])


def pool_root() -> Path:
    """Where the pools live: ``BENCH_HOME/pool`` (``rm -r`` it to reclaim the space)."""
    return bench_home() / "pool"


class ModelPool:
    """The pools of one loaded model (its weights' ``digest`` and ``denoiser``), one per sampling
    setting; ``setting`` picks the pool a draw reads. ``root`` defaults to ``pool_root()``."""

    def __init__(self, digest: str, denoiser: Denoiser, root: Path | None = None) -> None:
        self.digest = digest
        self.denoiser = denoiser
        self.root = root

    def setting(
        self, denoiser: Denoiser, sampler: SchedulerMixin, steps: int, resolution: int
    ) -> SamplePool | None:
        """The pool of ``denoiser`` sampled by ``sampler`` (its class and full config) in
        ``steps`` steps, in the suite's batches of ``BATCH``. None when ``denoiser`` is not the
        model this pool was opened for (an attack that swapped its view's denoiser samples on its
        own: its batches are not the weights' batches)."""
        if denoiser is not self.denoiser:
            return None
        root = pool_root() if self.root is None else self.root
        return sampling_pool(
            root, self.digest, sampler, steps, resolution, denoiser.compiled, denoiser.unet_batch
        )


def sampling_pool(
    root: Path,
    digest: str,
    sampler: SchedulerMixin,
    steps: int,
    resolution: int,
    compiled: bool,
    unet_batch: int | None = None,
) -> SamplePool:
    """The pool of the weights ``digest`` under ``sampler`` (its class and full config), in the
    suite's batches of ``BATCH``; the run's preflight opens it before the model is loaded."""
    described = {"_class_name": type(sampler).__name__, **sampler_settings(sampler)}
    return SamplePool(root, digest, described, steps, resolution, BATCH, compiled, unet_batch)


def sampler_settings(sampler: SchedulerMixin) -> dict[str, Any]:
    """The sampler's config without diffusers' bookkeeping (``_use_default_values``,
    ``_diffusers_version``, …). Those entries change no sampled byte, and
    ``_use_default_values`` is built from a set, so its order (and with it the key's hash) would
    change from one Python process to the next, and no process would find another's batches."""
    return {k: v for k, v in dict(sampler.config).items() if not k.startswith("_")}
