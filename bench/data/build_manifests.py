"""Regenerate the committed manifests from a CelebA root (`python -m bench data manifests`)."""

from __future__ import annotations

import numpy as np

from bench.atomic import write_text_atomic
from bench.cards import DatasetCard
from bench.data.celeba import CelebaIndex
from bench.data.manifests import member_order, split_nonmembers
from bench.errors import BenchError


def build_manifests(card: DatasetCard, index: CelebaIndex, seeds: dict[str, int]) -> dict[str, int]:
    """Write every committed manifest of ``card``; returns the size written per file."""
    nonmembers, eligible = split_nonmembers(index, seeds["nonmember_pool"], seeds["nonmembers"])
    order = member_order(eligible, seeds["members"])
    written = {"nonmembers": len(nonmembers)}
    write_text_atomic(card.nonmembers, "\n".join(nonmembers) + "\n")
    for scale, spec in card.scales.items():
        if "manifest" not in spec:
            continue
        size = int(spec["size"])
        if size > len(order):
            raise BenchError(
                f"scale {scale} needs {size} eligible images; the root has {len(order)}"
            )
        write_text_atomic(card.path.parent / spec["manifest"], "\n".join(order[:size]) + "\n")
        written[scale] = size
    rng = np.random.default_rng(seeds["canaries"])
    for name, spec in card.canaries.items():
        base = order[: int(card.scales[spec["scale"]]["size"])]
        picks = sorted(rng.choice(len(base), size=int(spec["count"]), replace=False).tolist())
        write_text_atomic(
            card.path.parent / spec["manifest"], "\n".join(base[i] for i in picks) + "\n"
        )
        written[f"canaries-{name}"] = len(picks)
    return written
