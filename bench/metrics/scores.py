"""The one scoring engine every attack is judged by.

Outputs are compared with the members and, by the very same code, with the non-members: a real
face the model never saw can only resemble a member by chance, so the non-member numbers are the
chance level each member number must beat.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.metrics.bands import BAND_NAMES, band_edges
from bench.metrics.sscd import SimilarityModel
from bench.metrics.sscd_bands import sscd_scores
from bench.metrics.tally import PoolTally
from bench.metrics.vectors import unit_chunks
from bench.utils.imageio import to_unit


def _check_images(images: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{what} must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if len(images) == 0 and what == "outputs":
        raise BenchError("there are no outputs to score; give at least one image")
    if len(images) == 0:
        raise BenchError(f"there are no {what} to compare the outputs with")


def score(
    outputs: np.ndarray,
    members: np.ndarray,
    nonmembers: np.ndarray,
    bands: dict[str, Any],
    deltas: list[float],
    *,
    sscd: SimilarityModel | None = None,
    sscd_bands: dict[str, Any] | None = None,
    keys: tuple[str | None, str | None] = (None, None),
    progress: bool = False,
) -> dict[str, Any]:
    """Every statistic of the outputs against the members, and the same against the non-members.

    ``bands`` holds normalised-ℓ2 ``{"lo", "hi"}`` per band (extra keys such as the false-match
    rate are passed through to the result). ``sscd`` (a loaded SSCD model) adds AMS/UMS and
    members hit on SSCD cosine similarity in ``sscd_bands``, with the reference descriptors cached
    under the member and non-member array ``keys`` where given. The result is plain JSON.
    """
    for images, what in ((outputs, "outputs"), (members, "members"), (nonmembers, "non-members")):
        _check_images(images, what)
    if not outputs.shape[1:] == members.shape[1:] == nonmembers.shape[1:]:
        raise BenchError(
            f"outputs are {outputs.shape[1]}×{outputs.shape[2]} but the reference images are "
            f"{members.shape[1]}×{members.shape[2]}; resize the outputs to the model's resolution"
        )
    edges = band_edges(bands)
    if not deltas or min(deltas) <= 0:
        raise BenchError(f"extraction thresholds (the card's deltas) must be positive: {deltas}")
    deltas_t = tuple(float(d) for d in deltas)
    if sscd is not None and sscd_bands is None:
        raise ValueError("sscd_bands must accompany sscd")
    member = PoolTally(to_unit(members), edges, deltas_t)
    chance = PoolTally(to_unit(nonmembers), edges, deltas_t)
    for _, vectors in unit_chunks(outputs, progress):
        member.add(vectors)
        chance.add(vectors)
        del vectors  # before the next chunk is made, so one chunk is alive at a time, not two
    n = len(outputs)
    result: dict[str, Any] = {
        "n_outputs": n,
        **member.result(n),
        "members_hit": member.hit_ids(),
        "nonmember": chance.result(n),
        "bands": {b: {k: float(v) for k, v in bands[b].items()} for b in BAND_NAMES},
    }
    if sscd is not None:
        result["sscd"] = sscd_scores(sscd, outputs, members, nonmembers, sscd_bands, keys)
    return result
