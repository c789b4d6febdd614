"""Behind `bench data calibrate`: derive the ℓ2 bands for one resolution, write them into the card.

The bands are a property of the dataset at a resolution, not of any model, so they are computed
once from real images (non-members against the largest committed member set, where chance
lookalikes are most common) and committed with the card for every run to share.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from bench.cards import DatasetCard, dataset_card
from bench.cards.registry import tomllib
from bench.cards.schema import _toml_value
from bench.data.celeba import read_index
from bench.data.manifests import members, read_manifest
from bench.data.preprocess import cached_images
from bench.errors import BenchError
from bench.metrics.bands import BAND_NAMES, BAND_QUANTILES, calibrate_bands
from bench.metrics.sscd import similarity_model
from bench.metrics.sscd_bands import calibrate_sscd_bands
from bench.utils.atomic import write_text_atomic
from bench.utils.paths import data_root

# Above CelebA's 148 px crop an upsampled face adds no detail; the bound keeps allocations sane.
MAX_RESOLUTION = 512
CALIBRATED_MARKER = "# --- written by `bench data calibrate`; do not edit below this line ---"


def largest_committed_scale(card: DatasetCard) -> str:
    committed = [s for s, spec in card.scales.items() if "manifest" in spec]
    return max(committed, key=lambda s: int(card.scales[s]["size"]))


def _reference_sets(
    card: DatasetCard, scale: str | None, resolution: int, root: str | None
) -> tuple[str, tuple[np.ndarray, str], tuple[np.ndarray, str]]:
    """The scale, and the member and non-member images with their array caches' keys."""
    scale = scale or largest_committed_scale(card)
    card.check_scale(scale)
    if not 1 <= resolution <= MAX_RESOLUTION:
        raise BenchError(
            f"--resolution must be 1 to {MAX_RESOLUTION} pixels (CelebA's crop is 148 px), "
            f"got {resolution}"
        )
    base = data_root(root)
    member_files = members(card, scale, read_index(base))
    member_set = cached_images(card, base, member_files, resolution)
    return scale, member_set, cached_images(card, base, read_manifest(card.nonmembers), resolution)


def calibrate(
    resolution: int,
    scale: str | None = None,
    dataset: str = "celeba",
    root: str | None = None,
    progress: bool = True,
    similarity: str | None = None,
) -> dict[str, Any]:
    """Calibrate the ℓ2 bands at ``resolution`` (or, with ``similarity``, that SSCD model's
    bands), store them in the dataset card, return the entry."""
    card = dataset_card(dataset)
    model = None if similarity is None else similarity_model(similarity)  # before decoding
    scale, (member_images, member_key), (nonmember_images, nonmember_key) = _reference_sets(
        card, scale, resolution, root
    )
    entry: dict[str, Any] = {
        "calibrated_on": {
            "scale": scale,
            "members": len(member_images),
            "nonmembers": len(nonmember_images),
        }
    }
    if model is None:
        entry.update(calibrate_bands(member_images, nonmember_images, progress))
        write_bands(card, resolution, entry)
    else:
        keys = (member_key, nonmember_key)
        entry.update(calibrate_sscd_bands(model, member_images, nonmember_images, keys))
        write_bands(card, resolution, entry, table="sscd_bands", name=similarity)
    return entry


def write_bands(
    card: DatasetCard,
    resolution: int,
    entry: dict[str, Any],
    table: str = "bands",
    name: str | None = None,
) -> None:
    """Replace the card's machine-written band tables, keeping the hand-written part above them.

    Every table and resolution is rewritten together, so calibrating one never drops another:
    ``bands`` (ℓ2, per resolution) and ``sscd_bands`` (per resolution and SSCD model ``name``).
    """
    text = card.path.read_text()
    metrics = tomllib.loads(text).get("metrics", {})
    tables = {t: dict(metrics.get(t, {})) for t in ("bands", "sscd_bands")}
    if name is None:
        tables[table][str(resolution)] = entry
    else:
        tables[table].setdefault(str(resolution), {})[name] = entry
    quantiles = ", ".join(f"{b} < q{BAND_QUANTILES[b]:g}" for b in BAND_NAMES)
    lines = [
        CALIBRATED_MARKER,
        "# Normalised-ℓ2 bands (lo ≤ d < hi); q = quantile of the non-member → nearest-member",
        f"# distance: {quantiles}. false_match_rate = share of",
        "# non-members whose nearest member falls in the band. Reasons: see [metrics] above.",
    ]
    for res in sorted(tables["bands"], key=int):
        lines.append(f'[metrics.bands."{res}"]')
        lines += [f"{key} = {_toml_value(value)}" for key, value in tables["bands"][res].items()]
        lines.append("")
    if tables["sscd_bands"]:
        lines += [
            "# SSCD cosine bands (lo < s ≤ hi) per resolution and model: the paper's edge where",
            "# non-members stay within the ℓ2 band's rate, else that quantile (edge = calibrated);",
            "# allowed = blurred copies clear the high edge. Rule: bench/metrics/sscd_bands.py.",
        ]
    for res in sorted(tables["sscd_bands"], key=int):
        for model, values in sorted(tables["sscd_bands"][res].items()):
            lines.append(f'[metrics.sscd_bands."{res}".{_toml_key(model)}]')
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
            lines.append("")
    text = text.split(CALIBRATED_MARKER)[0].rstrip() + "\n\n" + "\n".join(lines)
    tomllib.loads(text)  # never write a card that no longer parses
    write_text_atomic(card.path, text)


def _toml_key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else json.dumps(name)
