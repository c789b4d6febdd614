"""The track's own non-members: CelebA images that no member set and no extraction pool uses.

Extraction's non-member pool (``datasets/celeba/nonmembers.txt``) fixes its chance levels, so the
track leaves it alone. Its held-out images are every image of the root that is (a) outside every
committed member manifest (the 5k prefix, which holds every smaller scale, canary and ladder, and
the tuning scale) and the extraction pool, and (b) of an identity that none of those images has:
a face whose other photos were trained on would measure identity, not membership (the same reason
the extraction pool withholds whole identities). The 10,000-image root leaves 1,742 such images.
They are listed in a seeded order, as file names only (no pixels enter the repository), so
``bench mia heldout`` rewrites the committed manifest byte for byte from the same root.

A root large enough to derive the 10k scale would draw that scale's extra members from these
images; the paper profile's 10k model cannot be built from this root, and its held-out set would
have to be drawn again (the manifest's digest goes into every record, so a changed set shows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.cards import DatasetCard, ModelCard, dataset_card
from bench.data.captions import captions_for
from bench.data.celeba import CelebaIndex, read_index
from bench.data.manifests import manifest_digest, members, read_manifest
from bench.data.preprocess import cached_images
from bench.data.subset import Subset
from bench.errors import BenchError
from bench.utils.atomic import write_text_atomic

# Suite's choice: the seed of the manifest's order, next after the dataset card's manifest seeds.
HELDOUT_SEED = 20235
MANIFEST = "membership-heldout.txt"


def heldout_path(card: DatasetCard) -> Path:
    return card.path.parent / card.name / MANIFEST


def used_files(card: DatasetCard) -> set[str]:
    """Every image a committed member manifest or the extraction pool lists."""
    used = set(read_manifest(card.nonmembers))
    for scale, spec in card.scales.items():
        if "manifest" in spec:
            used |= set(members(card, scale))
    return used


def draw_heldout(card: DatasetCard, index: CelebaIndex, seed: int = HELDOUT_SEED) -> list[str]:
    """The held-out images of ``index``'s root in seeded order (see the module docstring)."""
    used = used_files(card)
    identity = dict(zip(index.files, index.identities.tolist()))
    missing = sorted(f for f in used if f not in identity)
    if missing:
        raise BenchError(
            f"the CelebA root lacks {len(missing)} listed images (first {missing[0]}); the "
            "membership held-out set is drawn from the root the manifests were built from"
        )
    taken = {identity[f] for f in used}
    free = [f for f in index.files if f not in used and identity[f] not in taken]
    if not free:
        raise BenchError("the CelebA root has no image outside the member identities")
    rng = np.random.default_rng(seed)
    return [free[i] for i in rng.permutation(len(free))]


def write_heldout(card: DatasetCard, index: CelebaIndex) -> tuple[int, str]:
    """Write the committed manifest; returns its size and digest."""
    files = draw_heldout(card, index)
    write_text_atomic(heldout_path(card), "\n".join(files) + "\n")
    return len(files), manifest_digest(files)


def read_heldout(card: DatasetCard) -> list[str]:
    return read_manifest(heldout_path(card))


def heldout_subset(model: ModelCard, root: Path) -> Subset:
    """The held-out images at the model's resolution, with their captions, as a ``Subset``."""
    data = dataset_card(model.dataset)
    index = read_index(root)
    files = read_heldout(data)
    images, cache_key = cached_images(data, root, files, model.resolution)
    return Subset(
        files=files,
        images=images,
        counts=np.ones(len(files), dtype=np.int64),
        captions=captions_for(index.attribute_names, index.attributes[index.rows(files)]),
        cache_key=cache_key,
    )
