"""What the sample pool saves a grid, counted from the attacks' declared draws without sampling.

Each attack declares the sampling a run does (``Attack.draws``): its outputs, whether they are
unguided, and its unguided preparation draws as (seed, images). A draw of n images at seed s is
the batches (s, i) of ``BATCH`` images, the last possibly shorter, so the grid's UNet evaluations
follow by counting, under three regimes:

- alone: every cell samples everything it draws (what the records' costs charge, plus SIDE's
  held-out check, which they do not);
- before the pool: the suite until issue 17, where a cell's outputs were its own and a
  preparation draw was cached per model and run seed by its seed and size (so side and side-ti
  of one seed shared their synthetic set);
- pooled: every distinct unguided batch once, plus every guided or captioned output.

``tests/test_perf.py`` checks the pooled count against the UNet evaluations a tiny grid runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.attacks.base import Draws, load_attack
from bench.cards import ModelCard, attack_card, attack_names, dataset_card, validate
from bench.runner.cell import default_budget
from bench.zoo.build import sampling_steps
from bench.zoo.pool import batch_lengths
from bench.zoo.sampling import BATCH


@dataclass(frozen=True)
class GridSaving:
    """UNet evaluations of one model's grid under each regime (see the module)."""

    cells: int
    attacks: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: int
    alone: int
    before: int
    pooled: int

    @property
    def saved_share(self) -> float:
        """The share of the pre-pool grid's evaluations the pool saves."""
        return 1 - self.pooled / self.before


def declared_draws(
    model: ModelCard,
    profile: str,
    budget: int,
    seeds: Iterable[int],
    attacks: list[str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[tuple[str, int, Draws]]:
    """(attack, seed, draws) of every cell: ``attacks`` (default: each whose card applies to the
    model and whose class declares its draws) at their card defaults with ``overrides``."""
    cells = []
    names = attacks or sorted(attack_names())
    for name in names:
        acard = attack_card(name)
        if not acard.runs_on(model.conditioning, profile):
            continue
        params = validate.attack_params(acard, profile, dict((overrides or {}).get(name, {})))
        attack = load_attack(acard, params)
        for seed in seeds:
            draws = attack.draws(budget, seed)
            if draws is not None:
                cells.append((name, seed, draws))
    return cells


def grid_saving(
    model: ModelCard,
    seeds: Iterable[int],
    attacks: list[str] | None = None,
    budget: int | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> GridSaving:
    """The UNet evaluations of ``model``'s grid over ``seeds`` alone, before the pool and
    pooled (at the dataset card's N_G for the model's profile unless ``budget`` is given)."""
    seeds = tuple(seeds)
    if budget is None:
        budget = default_budget(dataset_card(model.dataset), model.profile)
    steps = sampling_steps(model)
    cells = declared_draws(model, model.profile, budget, seeds, attacks, overrides)
    alone = before = guided = 0
    prep_cached: set[tuple[int, int, int]] = set()
    batches: set[tuple[int, int, int]] = set()
    for _, seed, draws in cells:
        alone += draws.outputs + sum(n for _, n in draws.prep)
        before += draws.outputs
        guided += 0 if draws.unguided_outputs else draws.outputs
        prep_cached |= {(seed, s, n) for s, n in draws.prep}
        for s, n in draws.unguided(seed):
            batches |= {(s, i, length) for i, length in enumerate(batch_lengths(n, BATCH))}
    before += sum(n for _, _, n in prep_cached)
    return GridSaving(
        cells=len(cells),
        attacks=tuple(sorted({name for name, _, _ in cells})),
        seeds=seeds,
        budget=budget,
        alone=alone * steps,
        before=before * steps,
        pooled=(guided + sum(length for _, _, length in batches)) * steps,
    )
