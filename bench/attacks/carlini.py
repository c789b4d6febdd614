"""Generate-and-filter extraction (Carlini et al., USENIX Security 2023, §4 and §5).

Threat model: white-box sampling access to an unconditional model; no training data. Sample N_G
images, join generations closer than a tiled-ℓ2 threshold, and predict a memorised image for each
clique of at least ``k`` generations. Outputs are all N_G generations (for AMS/UMS at equal budget)
plus one ranked candidate per clique (for Carlini's own precision / extraction counts).
"""

from __future__ import annotations

import numpy as np

from bench.attacks.base import Attack, AttackResult, Draws, ModelView
from bench.attacks.cliques import find_cliques
from bench.attacks.generation import generate_outputs
from bench.attacks.mutations import Mutation, no_clique_filter


class Carlini(Attack):
    name = "carlini"
    threat_model = "white-box"

    def __init__(self, edge_threshold: float, clique_k: int = 10, tile_grid: int = 4) -> None:
        self.edge_threshold = edge_threshold
        self.clique_k = clique_k
        self.tile_grid = tile_grid

    @classmethod
    def mutations(cls) -> dict[str, Mutation]:
        return {"clique filter off": no_clique_filter}

    def draws(self, budget: int, seed: int) -> Draws:
        return Draws(outputs=budget, unguided_outputs=True)

    def run(self, view: ModelView, budget: int, seed: int) -> AttackResult:
        unet, _ = generate_outputs(view, budget, seed)
        images = view.store.images()
        cliques = find_cliques(images, self.edge_threshold, self.clique_k, self.tile_grid)
        return filtered_result(images, cliques, unet)


def filtered_result(images: np.ndarray, cliques: list, unet: int, **info) -> AttackResult:
    """Shared by the clique attacks: representatives in rank order, with clique statistics
    (``cliques_capped``: how many came from a search that hit ``SEARCH_BUDGET``)."""
    reps = np.stack([images[c.representative] for c in cliques]) if cliques else None
    capped = sum(not c.exact for c in cliques)
    if capped:  # absent when every search was exact, as in every record before the budget
        info = {"cliques_capped": capped, **info}
    return AttackResult(
        n_outputs=len(images),
        unet_evaluations=unet,
        filtering=True,
        candidates=reps,
        info={
            "cliques": len(cliques),
            "clique_sizes": [len(c.members) for c in cliques],
            "clique_mean_distance": [round(c.mean_distance, 5) for c in cliques],
            **info,
        },
    )
