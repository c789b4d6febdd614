"""Carlini et al.'s clique filter over generations (USENIX Security 2023, §4.2 and §5).

Generations within a tiled-ℓ2 threshold of each other are joined by an edge; a clique of at least
``k`` generations predicts a memorised training image. Candidate pairs come from the suite's faiss
engine: for equal tiles the global ℓ2² is the mean of the tile ℓ2², so global ℓ2 ≤ tiled ℓ2 and a
plain range search at the same radius finds every pair the tiled test can accept. The search runs
on the images averaged over 2×2 pixel blocks: by Jensen's inequality the mean square of a block's
mean difference is at most the block's mean square difference, so the pooled ℓ2 is at most the
global ℓ2 and the same radius still finds every such pair, at a quarter of the dimensions (the
range search is quadratic in N_G, and `bench perf` holds the filter to 1% of generation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BenchError
from bench.metrics.neighbours import NeighbourIndex
from bench.utils.imageio import to_unit

# Branch-and-bound calls one maximum-clique search may make. Exact search is exponential on a
# near-clique, as hundreds of copies of one memorised image make, a few of whose pairs sit just
# over the threshold: a 100-node graph missing 2% of its edges at random ran past 2 minutes
# (carlini at N_G 20,352 on celeba-5k-ladder-cpu never finished scoring). Past the budget the
# search keeps the largest clique it has found (a maximal clique, at least as large as the first
# one it reached) and says so: the record counts every search that stopped early
# (``CliqueSearch.capped``), including one whose best clique fell short of k, where a clique of
# k may have been missed and no candidate marks it. Suite's choice: no search of the 36
# committed carlini runs whose outputs were at hand reached it (at most 141-member cliques,
# 5,120 outputs): they are unchanged.
SEARCH_BUDGET = 100_000
# Pixel values of the candidate pairs tested at once. Where every output of a group copies one
# image, every pair is a candidate: tested all at once, 800 outputs of 16 px peaked at 2.5 GB
# (about 10 bytes a pixel value of a pair: both sides and their difference as float32), and 512
# of 64 px would have needed 16 GB. Suite's choice: about 340 MB a block.
PAIR_BLOCK_VALUES = 1 << 25
BLOCK_BYTES = 10 * PAIR_BLOCK_VALUES
# What each edge of the graph costs once found, in bytes: its indices and distance, and its
# entries in the Python adjacency sets and distance map. Measured (tracemalloc peak over edges)
# on complete graphs of near-identical 8 px images: 494 bytes at 300 nodes, 645 at 600, growing
# slowly as the sets resize; 700 covers those with a margin. Checked against a measurement in
# tests/test_text_conditional_memory.py.
EDGE_BYTES = 700


@dataclass(frozen=True)
class Clique:
    members: tuple[int, ...]  # indices into the generations
    mean_distance: float  # mean intra-clique tiled ℓ2 (the ranking key, lower is stronger)
    representative: int  # the member with the smallest mean distance to the others
    exact: bool = True  # False: its search hit SEARCH_BUDGET, so a larger clique may exist


@dataclass(frozen=True)
class CliqueSearch:
    """The filter's cliques, ranked, and how many maximum-clique searches hit SEARCH_BUDGET."""

    cliques: tuple[Clique, ...]
    capped: int = 0  # searches stopped early, with or without a clique of k to show for it


def check_grid(resolution: int, grid: int, attack: str) -> None:
    """Before any sampling: the tile grid must divide the model's images, or the clique filter
    would refuse them only after every output had been generated."""
    if resolution % grid:
        raise BenchError(
            f"{attack} parameter tile_grid ({grid}) does not divide the model's {resolution} px "
            f"images; pick a divisor of {resolution}"
        )


def clique_filter_bytes(n: int, resolution: int) -> int:
    """The memory ``find_cliques`` needs at most for ``n`` generations of ``resolution`` px: their
    float vectors and the faiss index's copy, one block of candidate pairs, and every pair an
    edge, which is what a group whose outputs all copy one memorised image makes."""
    vectors = 2 * n * 3 * resolution**2 * 4
    return vectors + BLOCK_BYTES + n * (n - 1) // 2 * EDGE_BYTES


def tiled_l2(a: np.ndarray, b: np.ndarray, grid: int) -> np.ndarray:
    """Max over a grid×grid tiling of the per-tile normalised ℓ2, for paired uint8 images."""
    n, h, w, c = a.shape
    if h % grid or w % grid:  # the range pre-filter's bound needs tiles that cover the image
        raise ValueError(f"a {grid}×{grid} tile grid does not divide {h}×{w} images")
    th, tw = h // grid, w // grid
    diff = np.subtract(a, b, dtype=np.float32) / 255.0
    tiles = diff.reshape(n, grid, th, grid, tw, c)
    per_tile = np.sqrt((tiles**2).mean(axis=(2, 4, 5)))
    return per_tile.reshape(n, -1).max(axis=1)


def pooled(images: np.ndarray) -> np.ndarray:
    """uint8 images averaged over 2×2 pixel blocks (as float32 on the uint8 scale: rounding
    could break the bound), or the images themselves where a side is odd."""
    n, h, w, c = images.shape
    if h % 2 or w % 2:
        return images
    blocks = images.reshape(n, h // 2, 2, w // 2, 2, c).astype(np.float32)
    return blocks.mean(axis=(2, 4))


def edges(images: np.ndarray, threshold: float, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges (i < j) with tiled ℓ2 ≤ threshold, and their distances."""
    if len(images) < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float32)
    vecs = to_unit(pooled(images))
    index = NeighbourIndex(vecs)
    pairs, dists = [], []
    block = max(1, PAIR_BLOCK_VALUES // images[0].size)
    for qid, bid, _ in index.within(vecs, threshold):
        keep = qid < bid
        qid, bid = qid[keep], bid[keep]
        for s in range(0, len(qid), block):  # candidate pairs' pixels, a bounded block at a time
            q, b = qid[s : s + block], bid[s : s + block]
            d = tiled_l2(images[q], images[b], grid)
            ok = d <= threshold
            pairs.append(np.stack([q[ok], b[ok]], axis=1))
            dists.append(d[ok])
    if not pairs:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float32)
    return np.concatenate(pairs), np.concatenate(dists)


class _Budget(Exception):
    """The search spent its budget."""


def max_clique(
    nodes: set[int], adj: dict[int, set[int]], budget: int | None = None
) -> tuple[set[int], bool]:
    """Maximum clique by Bron–Kerbosch with pivoting (Tomita et al. 2006), and whether it is
    proven maximum; after ``budget`` calls (default ``SEARCH_BUDGET``), the largest clique
    found so far."""
    budget = SEARCH_BUDGET if budget is None else budget
    best: set[int] = set()
    calls = 0

    def expand(r: set[int], p: set[int], x: set[int]) -> None:
        nonlocal best, calls
        calls += 1
        if calls > budget:
            raise _Budget
        if not p and not x:
            if len(r) > len(best):
                best = r
            return
        if len(r) + len(p) <= len(best):
            return
        pivot = max(p | x, key=lambda u: len(adj[u] & p))
        for v in list(p - adj[pivot]):
            expand(r | {v}, p & adj[v], x & adj[v])
            p = p - {v}
            x = x | {v}

    try:
        expand(set(), set(nodes), set())
    except _Budget:
        return best, False
    return best, True


def find_cliques(images: np.ndarray, threshold: float, k: int, grid: int) -> CliqueSearch:
    """Disjoint cliques of at least ``k`` generations, ranked by mean intra-clique distance.

    Per connected component, the largest clique is taken and removed until none of size ``k``
    remains, so one memorised image yields one candidate rather than many overlapping ones.
    """
    pairs, dists = edges(images, threshold, grid)
    adj: dict[int, set[int]] = {}
    dist: dict[tuple[int, int], float] = {}
    for (i, j), d in zip(pairs.tolist(), dists.tolist()):
        adj.setdefault(i, set()).add(j)
        adj.setdefault(j, set()).add(i)
        dist[(i, j)] = dist[(j, i)] = d
    cliques: list[Clique] = []
    capped = 0
    for component in _components(adj):
        remaining = set(component)
        while len(remaining) >= k:
            sub = {u: adj[u] & remaining for u in remaining}
            clique, exact = max_clique(remaining, sub)
            capped += not exact
            if len(clique) < k:
                break
            cliques.append(_summarise(sorted(clique), dist, exact))
            remaining -= clique
    return CliqueSearch(tuple(sorted(cliques, key=lambda c: (c.mean_distance, c.members))), capped)


def _components(adj: dict[int, set[int]]) -> list[set[int]]:
    seen: set[int] = set()
    out = []
    for start in sorted(adj):
        if start in seen:
            continue
        stack, comp = [start], set()
        while stack:
            u = stack.pop()
            if u in comp:
                continue
            comp.add(u)
            stack.extend(adj[u] - comp)
        seen |= comp
        out.append(comp)
    return out


def _summarise(members: list[int], dist: dict[tuple[int, int], float], exact: bool) -> Clique:
    m = len(members)
    mat = np.zeros((m, m), dtype=np.float64)
    for a in range(m):
        for b in range(a + 1, m):
            mat[a, b] = mat[b, a] = dist[(members[a], members[b])]
    per_node = mat.sum(axis=1) / (m - 1)
    mean = float(mat.sum() / (m * (m - 1)))
    return Clique(tuple(members), mean, members[int(per_node.argmin())], exact)
