"""Stream an attack's generations into its store, shard by shard, resuming where it stopped.

Unguided, uncaptioned draws go through the store's sample pool where it has one
(``bench.zoo.pool``): a batch the pool holds is read, not sampled, and one it lacks is sampled and
added, so the bytes are those the attack would sample alone and its cost is charged in full.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.attacks.base import SHARD, ModelView
from bench.zoo.pool import Drawn, SamplePool
from bench.zoo.sampling import Guidance


def generate_outputs(
    view: ModelView,
    n: int,
    seed: int,
    captions: list[str] | None = None,
    guidance: Guidance | None = None,
    labels: np.ndarray | None = None,
    progress: bool = True,
    phase: str | None = None,
) -> tuple[int, int]:
    """Write ``n`` outputs to ``view.store``; returns (UNet, classifier) evaluations of all shards.

    Batch ``i`` is shard ``i`` and uses generator (seed, i), so a resumed run writes exactly the
    shards an uninterrupted one would have, and in a data-parallel job each process makes the
    missing shards it owns (``bench.utils.parallel``); all of them have every shard on return.
    Unguided shards come from the pool where the store has one; guided and captioned shards from
    the store's donors (the same cell at another budget) where one holds them. ``phase`` names
    the progress bar (default: "guided sampling" or "sampling").
    """
    store = view.store
    todo = [i for i in range(-(-n // SHARD)) if store.ranks.owns(i) and not store.has_shard(i)]
    phase = phase or ("guided sampling" if guidance is not None else "sampling")
    pool = _pool(view) if guidance is None and captions is None else None
    if pool is not None:
        for drawn in _pooled(view, pool, n, seed, todo, progress, phase, charged=True):
            unet = len(drawn.images) * view.sampling_steps
            store.write_shard(drawn.index, drawn.images, unet=unet)
        store.ranks.wait()
        return store.shard_cost()
    todo = [i for i in todo if not store.adopt_shard(i, *_shard_draw(i, n, labels))]
    batches = view.sample(
        n,
        seed,
        captions=captions,
        guidance=guidance,
        labels=labels,
        batches=todo,
        progress=progress,
        phase=phase,
    )
    for i, images in zip(todo, batches):
        unet = len(images) * view.sampling_steps
        classifier = unet if guidance is not None else 0
        extra = {"labels": _shard_draw(i, n, labels)[1]} if labels is not None else {}
        store.write_shard(i, images, unet=unet, classifier=classifier, **extra)
    store.ranks.wait()
    return store.shard_cost()


def _shard_draw(i: int, n: int, labels: np.ndarray | None) -> tuple[int, np.ndarray | None]:
    """Shard ``i`` of ``n`` outputs: its length and its outputs' labels (None when unlabelled)."""
    first = i * SHARD
    length = min(SHARD, n - first)
    return length, None if labels is None else labels[first : first + length]


def generate_prep(
    view: ModelView,
    n: int,
    seed: int,
    progress: bool = True,
    phase: str = "preparation",
    charged: bool = True,
) -> tuple[np.ndarray, int]:
    """``n`` unguided samples used for preparation (SIDE's synthetic set, its held-out check) and
    their UNet evaluations; ``charged`` says whether the attack's cost counts them (the record's
    pool ledger needs to know). ``phase`` names the progress bar.

    With a pool, each process makes the pool batches it owns that are missing, all wait, and
    every process then reads the whole set from the pool: the set is made once, in parallel, and
    every process holds the same bytes. Without one, each process samples the set itself.
    """
    pool = _pool(view)
    if pool is None:
        images = np.concatenate(list(view.sample(n, seed, progress=progress, phase=phase)))
        return images, len(images) * view.sampling_steps
    ranks = view.store.ranks
    every = list(range(-(-n // SHARD)))
    owned = [i for i in every if ranks.owns(i)]
    for _ in _pooled(view, pool, n, seed, owned, progress, phase, charged):
        pass
    ranks.wait()
    # Every batch is in the pool now, noted by the process that owns it; this pass only reads
    # (and notes a batch it had to make again because it was damaged meanwhile).
    drawn = _pooled(view, pool, n, seed, every, progress, phase, charged, note_reused=False)
    images = np.concatenate([d.images for d in drawn])
    return images, len(images) * view.sampling_steps


def _pool(view: ModelView) -> SamplePool | None:
    """The pool of the view's model under the view's sampler and steps; None without one."""
    if view.store.pool is None:
        return None
    return view.store.pool.setting(
        view.denoiser, view.make_sampler(), view.sampling_steps, view.resolution
    )


def _pooled(
    view: ModelView,
    pool: SamplePool,
    n: int,
    seed: int,
    batches: list[int],
    progress: bool,
    phase: str,
    charged: bool,
    note_reused: bool = True,
) -> Iterator[Drawn]:
    """The listed batches of an unguided draw, through ``pool``, each noted in the ledger."""
    store = view.store

    def sample(indices: list[int]) -> Iterator[np.ndarray]:
        return view.sample(n, seed, batches=indices, progress=progress, phase=phase)

    for drawn in pool.draw(n, seed, batches, sample):
        if note_reused or not drawn.reused:
            evaluations = len(drawn.images) * view.sampling_steps
            store.note_pooled(
                seed, drawn.index, len(drawn.images), evaluations, drawn.reused, charged
            )
        yield drawn
