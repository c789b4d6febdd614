"""Stream an attack's generations into its store, shard by shard, resuming where it stopped."""

from __future__ import annotations

import numpy as np

from bench.attacks.base import SHARD, ModelView
from bench.attacks.store import check_images
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
    ``phase`` names the progress bar (default: "guided sampling" or "sampling").
    """
    store = view.store
    todo = [i for i in range(-(-n // SHARD)) if store.ranks.owns(i) and not store.has_shard(i)]
    batches = view.sample(
        n,
        seed,
        captions=captions,
        guidance=guidance,
        labels=labels,
        batches=todo,
        progress=progress,
        phase=phase or ("guided sampling" if guidance is not None else "sampling"),
    )
    for i, images in zip(todo, batches):
        unet = len(images) * view.sampling_steps
        classifier = unet if guidance is not None else 0
        extra = (
            {"labels": labels[i * SHARD : i * SHARD + len(images)]} if labels is not None else {}
        )
        store.write_shard(i, images, unet=unet, classifier=classifier, **extra)
    store.ranks.wait()
    return store.shard_cost()


def generate_prep(
    view: ModelView,
    key: str,
    n: int,
    seed: int,
    progress: bool = True,
    phase: str = "preparation",
) -> tuple[np.ndarray, int]:
    """Unconditional samples used for preparation (e.g. SIDE's synthetic set), cached by key; a
    cached set that is not ``n`` images at the view's resolution is made again. ``phase`` names
    the progress bar."""

    def make() -> dict[str, np.ndarray]:
        samples = view.sample(n, seed, progress=progress, phase=phase)
        return {"images": np.concatenate(list(samples))}

    def check(arrays: dict[str, np.ndarray]) -> None:
        check_images(arrays["images"], (n, view.resolution, view.resolution, 3))

    images = view.store.cached_arrays(key, make, check)["images"]
    return images, len(images) * view.sampling_steps
