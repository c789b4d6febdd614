"""Behind `bench data calibrate`: derive the ℓ2 bands for one resolution, write them into the card.

The bands are a property of the dataset at a resolution, not of any model, so they are computed
once from real images (non-members against the largest committed member set, where chance
lookalikes are most common) and committed with the card for every run to share.
"""

from __future__ import annotations

from typing import Any

from bench.cards import DatasetCard, dataset_card
from bench.cards.registry import tomllib
from bench.cards.schema import _toml_value
from bench.data.celeba import read_index
from bench.data.manifests import members, read_manifest
from bench.data.preprocess import load_images
from bench.errors import BenchError
from bench.metrics.bands import BAND_NAMES, BAND_QUANTILES, calibrate_bands
from bench.utils.atomic import write_text_atomic
from bench.utils.paths import data_root

CALIBRATED_MARKER = "# --- written by `bench data calibrate`; do not edit below this line ---"


def largest_committed_scale(card: DatasetCard) -> str:
    committed = [s for s, spec in card.scales.items() if "manifest" in spec]
    return max(committed, key=lambda s: int(card.scales[s]["size"]))


def calibrate(
    resolution: int,
    scale: str | None = None,
    dataset: str = "celeba",
    root: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Calibrate the bands at ``resolution``, store them in the dataset card, return the entry."""
    card = dataset_card(dataset)
    scale = scale or largest_committed_scale(card)
    card.check_scale(scale)
    if resolution < 1:
        raise BenchError(f"--resolution must be a positive number of pixels, got {resolution}")
    base = data_root(root)
    member_files = members(card, scale, read_index(base))
    member_images = load_images(card, base, member_files, resolution)
    nonmember_images = load_images(card, base, read_manifest(card.nonmembers), resolution)
    entry: dict[str, Any] = {
        "calibrated_on": {
            "scale": scale,
            "members": len(member_images),
            "nonmembers": len(nonmember_images),
        },
        **calibrate_bands(member_images, nonmember_images, progress),
    }
    write_bands(card, resolution, entry)
    return entry


def write_bands(card: DatasetCard, resolution: int, entry: dict[str, Any]) -> None:
    """Replace the card's machine-written band tables, keeping the hand-written part above them.

    All resolutions are rewritten together, so calibrating one never drops another.
    """
    text = card.path.read_text()
    per_res = dict(tomllib.loads(text).get("metrics", {}).get("bands", {}))
    per_res[str(resolution)] = entry
    quantiles = ", ".join(f"{b} < q{BAND_QUANTILES[b]:g}" for b in BAND_NAMES)
    lines = [
        CALIBRATED_MARKER,
        "# Normalised-ℓ2 bands (lo ≤ d < hi); q = quantile of the non-member → nearest-member",
        f"# distance: {quantiles}. false_match_rate = share of",
        "# non-members whose nearest member falls in the band. Reasons: see [metrics] above.",
    ]
    for res in sorted(per_res, key=int):
        lines.append(f'[metrics.bands."{res}"]')
        lines += [f"{key} = {_toml_value(value)}" for key, value in per_res[res].items()]
        lines.append("")
    text = text.split(CALIBRATED_MARKER)[0].rstrip() + "\n\n" + "\n".join(lines)
    tomllib.loads(text)  # never write a card that no longer parses
    write_text_atomic(card.path, text)
