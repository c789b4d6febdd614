"""Checks on the real CelebA root, run only where BENCH_DATA points at one (CI sets it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.cards import dataset_card
from bench.data.celeba import read_index
from bench.data.manifests import members, read_manifest
from bench.data.preprocess import load_images

ROOT = os.environ.get("BENCH_DATA")
pytestmark = pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="BENCH_DATA not set")


@pytest.fixture(scope="module")
def index():
    return read_index(Path(ROOT))


def test_committed_manifests_fit_the_root(index, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    card = dataset_card("celeba")
    ident = dict(zip(index.files, index.identities.tolist()))
    non = read_manifest(card.nonmembers)
    assert len(non) == 1000 and set(non) <= set(ident)
    withheld = {ident[f] for f in non}
    previous: list[str] = []
    for scale in ("64", "256", "1k", "5k"):
        files = members(card, scale)
        assert files[: len(previous)] == previous, f"{scale} is not nested"
        assert not {ident[f] for f in files} & withheld, f"{scale} shares a non-member identity"
        previous = files


def test_real_images_preprocess(index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    card = dataset_card("celeba")
    images = load_images(card, Path(ROOT), members(card, "64")[:16], 16)
    assert images.shape == (16, 16, 16, 3) and images.dtype == np.uint8
    assert 40 < images.mean() < 220 and images.std() > 20  # real faces, not blank crops
