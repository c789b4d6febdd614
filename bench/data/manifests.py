"""Committed subset manifests: which CelebA files form each scale and the non-member pool.

Members are nested prefixes of one seeded permutation, so a 1k model's training set contains the
256 model's; non-members are whole identities set aside first, so no non-member shares a face with
any member at any scale (otherwise "non-member" similarity would measure identity, not copying).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.cards import DatasetCard
from bench.data.celeba import CelebaIndex
from bench.errors import BenchError
from bench.utils.atomic import write_text_atomic
from bench.utils.paths import bench_home


def read_manifest(path: Path) -> list[str]:
    if not path.is_file():
        raise BenchError(
            f"manifest {path} is missing; regenerate with `python -m bench data manifests`"
        )
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def manifest_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def split_nonmembers(index: CelebaIndex, pool: int, seed: int) -> tuple[list[str], list[str]]:
    """Non-member pool of exactly ``pool`` images from whole identities, and the eligible rest.

    Identities are drawn in seeded order and all their images are withheld from members, including
    images of the last identity that did not fit in the pool.
    """
    rng = np.random.default_rng(seed)
    ids = np.unique(index.identities)
    rng.shuffle(ids)
    chosen: list[str] = []
    withheld: set[int] = set()
    by_id: dict[int, list[str]] = {}
    for f, i in zip(index.files, index.identities.tolist()):
        by_id.setdefault(i, []).append(f)
    for i in ids.tolist():
        if len(chosen) >= pool:
            break
        withheld.add(i)
        chosen.extend(by_id[i][: pool - len(chosen)])
    if len(chosen) < pool:
        raise BenchError(
            f"the root holds only {len(chosen)} images; the non-member pool needs {pool}"
        )
    eligible = [f for f, i in zip(index.files, index.identities.tolist()) if i not in withheld]
    return chosen, eligible


def member_order(eligible: list[str], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [eligible[i] for i in rng.permutation(len(eligible))]


def members(card: DatasetCard, scale: str, index: CelebaIndex | None = None) -> list[str]:
    """The member files of one scale: committed manifest, or derived from a large enough root."""
    spec = card.check_scale(scale)
    if "manifest" in spec:
        return read_manifest(card.path.parent / spec["manifest"])
    return _derived_members(card, scale, spec, index)


def _derived_members(
    card: DatasetCard, scale: str, spec: dict, index: CelebaIndex | None
) -> list[str]:
    """Scales larger than the committed ones extend the largest committed set, in seeded order."""
    need = int(spec["size"])
    if index is None:
        raise BenchError(
            f"scale {scale} is derived from the data root; pass --data-root or BENCH_DATA"
        )
    cache = bench_home() / "manifests" / f"{card.name}-{scale}-{index.root.name}.txt"
    if cache.is_file():
        return read_manifest(cache)
    base_scale = max(
        (s for s, v in card.scales.items() if "manifest" in v),
        key=lambda s: int(card.scales[s]["size"]),
    )
    base = members(card, base_scale)
    nonmembers = set(read_manifest(card.nonmembers))
    withheld = set(index.identities[index.rows(sorted(nonmembers))].tolist())
    taken = set(base)
    rest = [
        f
        for f, i in zip(index.files, index.identities.tolist())
        if i not in withheld and f not in taken
    ]
    if len(base) + len(rest) < need:
        raise BenchError(
            f"scale {scale} needs {need} member images outside the non-member identities; "
            f"the root at {index.root} supplies {len(base) + len(rest)}"
        )
    chosen = base + member_order(rest, int(card.scales[scale].get("seed", 0)))[: need - len(base)]
    write_text_atomic(cache, "\n".join(chosen) + "\n")
    return chosen


def canaries(card: DatasetCard, spec_name: str) -> dict[str, int]:
    """The repeated members of a canary or ladder variant, each with how often it appears.

    A canary variant repeats every listed file ``repeats`` times. A ladder variant (``tiers``)
    lists ``file repeats`` per line, so one model holds members at several duplicate counts and an
    attack's strength reads as the lowest tier it reaches (Carlini et al. 2023, Fig. 4).
    """
    if spec_name not in card.canaries:
        raise BenchError(f"unknown canary variant {spec_name!r}; valid: {', '.join(card.canaries)}")
    spec = card.canaries[spec_name]
    lines = read_manifest(card.path.parent / spec["manifest"])
    if "tiers" not in spec:
        return dict.fromkeys(lines, int(spec["repeats"]))
    repeats: dict[str, int] = {}
    for line in lines:
        name, _, times = line.partition(" ")
        if not times.strip().isdigit() or int(times) < 2:
            raise BenchError(
                f"ladder manifest {spec['manifest']}: line {line!r} is not 'file repeats≥2'"
            )
        repeats[name] = int(times)
    return repeats


def training_multiset(
    card: DatasetCard, scale: str, canary_spec: str | bool, index: CelebaIndex | None = None
) -> tuple[list[str], np.ndarray]:
    """Unique member files and, per file, how many times it appears in the training stream."""
    files = members(card, scale, index)
    counts = np.ones(len(files), dtype=np.int64)
    if canary_spec:
        pos = {f: i for i, f in enumerate(files)}
        for f, times in canaries(card, str(canary_spec)).items():
            if f not in pos:
                raise BenchError(f"canary {f} is not a member of scale {scale}")
            counts[pos[f]] = times
    return files, counts
