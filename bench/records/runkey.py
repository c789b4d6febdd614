"""Where a cell's outputs live under ``BENCH_HOME/runs``: one type builds and parses the names.

A run folder is ``<model>/<weights>/<attack>-v<version>-<params>/seed<seed>-n<budget><variant>``.
Outputs and preparation are keyed by the weights and card versions they came from, so a retrained
model or a changed attack never resumes from stale shards or classifiers. Compiled outputs round
differently from eager ones, and so do outputs denoised in slices (a card's ``unet_batch``), so
the ``variant`` (``-compiled``, ``-ub<N>``) keeps them from ever resuming each other's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

_CELL = re.compile(r"(?P<attack>.+)-v(?P<version>[0-9]+)-(?P<params>[0-9a-f]+)")
_RUN = re.compile(
    r"seed(?P<seed>[0-9]+)-n(?P<budget>[1-9][0-9]*)(?P<variant>(-compiled)?(-ub[0-9]+)?)"
)


@dataclass(frozen=True)
class RunKey:
    """The name of one run folder, field by field.

    Args:
        model: the model card's name.
        weights: the first 12 hex digits of the weights' sha256.
        attack, version: the attack card's name and version.
        params: ``bench.records.params_key`` of the parameters it ran with.
        seed, budget: the run seed and N_G.
        variant: how its outputs round: ``-compiled`` and/or ``-ub<N>``, or empty.
    """

    model: str
    weights: str
    attack: str
    version: int
    params: str
    seed: int
    budget: int
    variant: str = ""

    @staticmethod
    def variant_of(compiled: bool, unet_batch: int | None) -> str:
        return ("-compiled" if compiled else "") + (f"-ub{unet_batch}" if unet_batch else "")

    @property
    def model_folder(self) -> Path:
        return Path(self.model) / self.weights

    @property
    def cell_folder(self) -> Path:
        """Every budget of one attack version and parameter set on one model's weights."""
        return self.model_folder / f"{self.attack}-v{self.version}-{self.params}"

    @property
    def relative(self) -> Path:
        """The run folder, relative to ``BENCH_HOME/runs``."""
        return self.cell_folder / f"seed{self.seed}-n{self.budget}{self.variant}"

    @property
    def prep(self) -> Path:
        """The preparation folder (SIDE's classifier), shared by every attack at this seed."""
        return self.model_folder / "prep" / f"seed{self.seed}{self.variant}"

    @classmethod
    def parse(cls, relative: Path) -> RunKey | None:
        """The key a run folder's path (relative to ``BENCH_HOME/runs``) names; None when the
        path is no run folder (another layout, a budget with a leading zero)."""
        parts = Path(relative).parts
        if len(parts) != 4:
            return None
        cell, run = _CELL.fullmatch(parts[2]), _RUN.fullmatch(parts[3])
        if cell is None or run is None:
            return None
        return cls(
            model=parts[0],
            weights=parts[1],
            attack=cell["attack"],
            version=int(cell["version"]),
            params=cell["params"],
            seed=int(run["seed"]),
            budget=int(run["budget"]),
            variant=run["variant"],
        )

    def at_budget(self, budget: int) -> RunKey:
        return replace(self, budget=budget)

    def other_budgets(self, runs: Path) -> tuple[tuple[int, Path], ...]:
        """This cell's run folders under ``runs`` at budgets other than this key's, largest
        first: the same seed and variant, so shard ``i`` of each is the same draw."""
        found = []
        for folder in (runs / self.cell_folder).glob(f"seed{self.seed}-n*"):
            other = self.parse(folder.relative_to(runs))
            same_cell = other is not None and other == self.at_budget(other.budget)
            if same_cell and other.budget != self.budget and folder.is_dir():
                found.append((other.budget, folder))
        return tuple(sorted(found, reverse=True))
