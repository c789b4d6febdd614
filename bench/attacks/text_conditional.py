"""Text-conditional extraction (Carlini et al. 2023, §4: the Stable Diffusion attack).

Threat model: white-box sampling access to a caption-conditional model and knowledge of the
training captions (for Stable Diffusion, the most-duplicated LAION captions), never the images.
For each caption the attack draws ``per_caption`` samples and applies the clique filter to that
caption's samples alone: conditioning narrows the model to the few training images that share the
caption, which is why conditional models leak more. Captions are taken most-duplicated first, as
Carlini et al. chose theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from bench.attacks.base import Attack, AttackResult, Draws, ModelView
from bench.attacks.carlini import filtered_result
from bench.attacks.cliques import (
    Clique,
    CliqueSearch,
    check_grid,
    clique_filter_bytes,
    find_cliques,
)
from bench.attacks.generation import generate_outputs
from bench.attacks.mutations import no_clique_filter
from bench.errors import BenchError


class TextConditional(Attack):
    """Carlini et al.'s clique filter per training caption, on a caption-conditional model.

    Paper: Carlini et al., "Extracting Training Data from Diffusion Models", USENIX Security
    2023, §4 (the Stable Diffusion attack). Threat model: white-box sampling access to a
    caption-conditional model and the training captions (``white-box+captions``), never the
    images.

    Args:
        edge_threshold: the tiled ℓ2 under which two generations are joined by an edge.
        per_caption: generations drawn per caption; captions are taken most-duplicated first.
        clique_k: the fewest generations of one caption a clique needs.
        tile_grid: tiles per side of the tiled ℓ2.

    Mechanism it owns: ``candidate_filter`` (``find_cliques``), which the "clique filter off"
    mutation replaces.
    """

    name = "text-conditional"
    threat_model = "white-box+captions"
    candidate_filter = staticmethod(find_cliques)

    def __init__(
        self, edge_threshold: float, per_caption: int, clique_k: int, tile_grid: int
    ) -> None:
        self.edge_threshold = edge_threshold
        self.per_caption = per_caption
        self.clique_k = clique_k
        self.tile_grid = tile_grid

    def prompts(self, captions: tuple[str, ...], budget: int) -> list[str]:
        """One entry per output: the chosen captions, each repeated ``per_caption`` times."""
        counts = Counter(captions)
        ranked = sorted(counts, key=lambda c: (-counts[c], c))
        n_captions = -(-budget // self.per_caption)
        chosen = [ranked[i % len(ranked)] for i in range(n_captions)]
        # Output i prompts caption i // per_caption; never more entries than outputs, where
        # repeating each caption per_caption times first held 10^12 entries for per_caption=1e12.
        return [chosen[i // self.per_caption] for i in range(budget)]

    @classmethod
    def mutations(cls) -> dict[str, Callable[[Attack], None]]:
        return {"clique filter off": no_clique_filter}

    def check_model(self, resolution: int) -> None:
        check_grid(resolution, self.tile_grid, self.name)

    def draws(self, budget: int, seed: int) -> Draws:
        return Draws(outputs=budget, unguided_outputs=False)  # captioned: never pooled

    def peak_memory(self, budget: int, resolution: int) -> int:
        """The outputs, and the clique filter over the largest caption group: per_caption
        generations (at most the budget), every pair of which may be an edge."""
        return budget * 3 * resolution**2 + clique_filter_bytes(
            min(self.per_caption, budget), resolution
        )

    def run(self, view: ModelView, budget: int, seed: int) -> AttackResult:
        if view.captions is None or view.conditioning != "caption":
            raise BenchError(
                "text-conditional extraction needs a caption-conditional model "
                "and the training captions"
            )
        prompts = self.prompts(view.captions, budget)
        unet, _ = generate_outputs(view, budget, seed, captions=prompts)
        images = view.store.images()
        cliques: list[Clique] = []
        capped = 0
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(p, []).append(i)
        for idx in groups.values():
            ids = np.array(idx)
            found = self.candidate_filter(
                images[ids], self.edge_threshold, self.clique_k, self.tile_grid
            )
            capped += found.capped
            for c in found.cliques:
                cliques.append(
                    Clique(
                        tuple(int(ids[m]) for m in c.members),
                        c.mean_distance,
                        int(ids[c.representative]),
                        c.exact,
                    )
                )
        cliques.sort(key=lambda c: (c.mean_distance, c.members))
        unique = len(set(view.captions))
        return filtered_result(
            images,
            CliqueSearch(tuple(cliques), capped),
            unet,
            captions_prompted=len(groups),
            training_captions=len(view.captions),
            unique_captions=unique,
        )
