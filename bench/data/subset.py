"""Member and non-member images (and captions) for one model card, ready to train or score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cards import ModelCard, dataset_card
from bench.data.captions import captions_for
from bench.data.celeba import read_index
from bench.data.manifests import read_manifest, training_multiset
from bench.data.preprocess import cached_images


@dataclass(frozen=True)
class Subset:
    files: list[str]
    images: np.ndarray  # uint8 (N, R, R, 3)
    counts: np.ndarray  # how often each image appears in the training stream
    captions: list[str]
    cache_key: str = ""  # the preprocessed-image cache the images came from (records name it)


def members(card: ModelCard, root: Path, listed: list[str] | None = None) -> Subset:
    """The card's member set, or the images ``listed`` by a user's manifest (``--members``)."""
    data = dataset_card(card.dataset)
    index = read_index(root)
    if listed is None:
        files, counts = training_multiset(data, card.scale, card.canaries, index)
    else:
        files, counts = listed, np.ones(len(listed), dtype=np.int64)
    rows = index.rows(files)
    images, cache_key = cached_images(data, root, files, card.resolution)
    return Subset(
        files=files,
        images=images,
        counts=counts,
        captions=captions_for(index.attribute_names, index.attributes[rows]),
        cache_key=cache_key,
    )


def nonmembers(card: ModelCard, root: Path) -> Subset:
    data = dataset_card(card.dataset)
    index = read_index(root)
    files = read_manifest(data.nonmembers)
    rows = index.rows(files)
    images, cache_key = cached_images(data, root, files, card.resolution)
    return Subset(
        files=files,
        images=images,
        counts=np.ones(len(files), dtype=np.int64),
        captions=captions_for(index.attribute_names, index.attributes[rows]),
        cache_key=cache_key,
    )
