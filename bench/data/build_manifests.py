"""Regenerate the committed manifests from a CelebA root (`python -m bench data manifests`)."""

from __future__ import annotations

import numpy as np

from bench.cards import DatasetCard
from bench.data.celeba import CelebaIndex
from bench.data.manifests import member_order, split_nonmembers
from bench.errors import BenchError
from bench.utils.atomic import write_text_atomic


def build_manifests(card: DatasetCard, index: CelebaIndex, seeds: dict[str, int]) -> dict[str, int]:
    """Write every committed manifest of ``card``; returns the size written per file."""
    nonmembers, eligible = split_nonmembers(index, seeds["nonmember_pool"], seeds["nonmembers"])
    order = member_order(eligible, seeds["members"])
    written = {"nonmembers": len(nonmembers)}
    write_text_atomic(card.nonmembers, "\n".join(nonmembers) + "\n")
    for scale, spec in card.scales.items():
        if "manifest" not in spec:
            continue
        # ``offset`` skips the nested prefix: a tuning scale drawn past it shares no member with
        # any scale that starts at 0 (the models the leaderboard ranks).
        start = int(spec.get("offset", 0))
        size = int(spec["size"])
        if start + size > len(order):
            raise BenchError(
                f"scale {scale} needs {start + size} eligible images; the root has {len(order)}"
            )
        chosen = order[start : start + size]
        write_text_atomic(card.path.parent / spec["manifest"], "\n".join(chosen) + "\n")
        written[scale] = size
    rng = np.random.default_rng(seeds["canaries"])
    for name, spec in card.canaries.items():
        base = order[: int(card.scales[spec["scale"]]["size"])]
        tiers = [int(t) for t in spec.get("tiers", [spec.get("repeats", 0)])]
        count = int(spec["count"])
        picks = rng.choice(len(base), size=count * len(tiers), replace=False).tolist()
        if "tiers" in spec:  # `count` members per tier, tiers in card order: "file repeats"
            lines = [f"{base[i]} {tiers[j // count]}" for j, i in enumerate(picks)]
        else:
            lines = [base[i] for i in sorted(picks)]
        write_text_atomic(card.path.parent / spec["manifest"], "\n".join(lines) + "\n")
        written[f"canaries-{name}"] = len(picks)
    return written
