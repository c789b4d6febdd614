"""Member and non-member images (and captions) for one model card, ready to train or score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cards import ModelCard, dataset_card
from bench.data.captions import captions_for
from bench.data.celeba import read_index
from bench.data.manifests import read_manifest, training_multiset
from bench.data.preprocess import load_images


@dataclass(frozen=True)
class Subset:
    files: list[str]
    images: np.ndarray  # uint8 (N, R, R, 3)
    counts: np.ndarray  # how often each image appears in the training stream
    captions: list[str]


def members(card: ModelCard, root: Path) -> Subset:
    data = dataset_card(card.dataset)
    index = read_index(root)
    files, counts = training_multiset(data, card.scale, card.canaries, index)
    rows = index.rows(files)
    return Subset(
        files=files,
        images=load_images(data, root, files, card.resolution),
        counts=counts,
        captions=captions_for(index.attribute_names, index.attributes[rows]),
    )


def nonmembers(card: ModelCard, root: Path) -> Subset:
    data = dataset_card(card.dataset)
    index = read_index(root)
    files = read_manifest(data.nonmembers)
    rows = index.rows(files)
    return Subset(
        files=files,
        images=load_images(data, root, files, card.resolution),
        counts=np.ones(len(files), dtype=np.int64),
        captions=captions_for(index.attribute_names, index.attributes[rows]),
    )
