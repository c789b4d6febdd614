"""Generate-and-filter extraction (Carlini et al., USENIX Security 2023, §4 and §5).

Threat model: white-box sampling access to an unconditional model; no training data. Sample N_G
images, join generations closer than a tiled-ℓ2 threshold, and predict a memorised image for each
clique of at least ``k`` generations. Outputs are all N_G generations (for AMS/UMS at equal budget)
plus one ranked candidate per clique (for Carlini's own precision / extraction counts).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.attacks.base import Attack, AttackResult, Draws, ModelView
from bench.attacks.cliques import CliqueSearch, check_grid, find_cliques
from bench.attacks.generation import generate_outputs
from bench.attacks.mutations import no_clique_filter


class Carlini(Attack):
    """Generate-and-filter extraction: sample, join near-copies, predict one image per clique.

    Paper: Carlini, Hayes, Nasr, Jagielski, Sehwag, Tramèr, Balle, Ippolito, Wallace,
    "Extracting Training Data from Diffusion Models", USENIX Security 2023, §4-§5. Threat model:
    white-box sampling access to an unconditional model; no training image.

    Args:
        edge_threshold: the tiled ℓ2 under which two generations are joined by an edge.
        clique_k: the fewest generations a clique needs to predict a memorised image.
        tile_grid: tiles per side of the tiled ℓ2 (4: a 4×4 grid, as the paper's 16 tiles).

    Mechanism it owns: ``candidate_filter`` (``find_cliques``), which the "clique filter off"
    mutation replaces.
    """

    name = "carlini"
    threat_model = "white-box"
    candidate_filter = staticmethod(find_cliques)

    def __init__(self, edge_threshold: float, clique_k: int, tile_grid: int) -> None:
        self.edge_threshold = edge_threshold
        self.clique_k = clique_k
        self.tile_grid = tile_grid

    @classmethod
    def mutations(cls) -> dict[str, Callable[[Attack], None]]:
        return {"clique filter off": no_clique_filter}

    def check_model(self, resolution: int) -> None:
        check_grid(resolution, self.tile_grid, self.name)

    def draws(self, budget: int, seed: int) -> Draws:
        return Draws(outputs=budget, unguided_outputs=True)

    def candidate_indices(self, images: np.ndarray) -> np.ndarray:
        found = self.filter_outputs(images)
        return np.array([c.representative for c in found.cliques], dtype=np.int64)

    def run(self, view: ModelView, budget: int, seed: int) -> AttackResult:
        unet, _ = generate_outputs(view, budget, seed)
        images = view.store.images()
        return filtered_result(images, self.filter_outputs(images), unet)

    def filter_outputs(self, images: np.ndarray) -> CliqueSearch:
        return self.candidate_filter(images, self.edge_threshold, self.clique_k, self.tile_grid)


def filtered_result(images: np.ndarray, found: CliqueSearch, unet: int, **info) -> AttackResult:
    """Shared by the clique attacks: representatives in rank order, with clique statistics
    (``clique_searches_capped``: maximum-clique searches that hit ``SEARCH_BUDGET``, each of
    which may have missed a larger clique or one of k; ``cliques_capped``: the cliques that came
    from such a search)."""
    cliques = found.cliques
    reps = np.stack([images[c.representative] for c in cliques]) if cliques else None
    capped = sum(not c.exact for c in cliques)
    if found.capped:  # absent when every search was exact, as in every record before the budget
        info = {"clique_searches_capped": found.capped, "cliques_capped": capped, **info}
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
