"""One type for a benchmark cell: what to run (``CellSpec``) and how to run it (``RunOptions``).

The command line builds a spec; the grid, the executors (a spec is the job's payload, so it is
frozen and picklable), curves, sweeps and floors pass specs on, changing a field with
``dataclasses.replace``. The model is a zoo card or a user's diffusers folder, two types, so a
cell can never name both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cards import AttackCard
from bench.errors import BenchError
from bench.zoo.targets import zoo_card


@dataclass(frozen=True)
class ZooModel:
    """A model card of the zoo, by name."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class FolderModel:
    """A user's diffusers ``save_pretrained`` folder (``--model-path``), trained on a dataset
    ``scale``'s members or on the images a ``members`` manifest lists (exactly one of the two).
    ``sampler`` replaces the folder's scheduler class; ``steps`` sets the sampling steps."""

    path: str
    scale: str | None = None
    members: str | None = None
    sampler: str | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if (self.scale is None) == (self.members is None):
            raise BenchError(
                "--model-path needs --scale or --members, the member set the model was trained on"
            )

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class CellSpec:
    """One cell: attack × model × seed at budget N_G (None: the dataset card's for the profile),
    with attack-card ``overrides`` and the CelebA root (None: ``BENCH_DATA``)."""

    attack: str
    model: ZooModel | FolderModel
    profile: str = "cpu"
    seed: int = 0
    budget: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None

    def __str__(self) -> str:
        return f"{self.attack} {self.model} seed {self.seed}"


@dataclass(frozen=True)
class RunOptions:
    """How a cell runs: whether its record is written and under which folder (None: the user's
    results folder; reports/ only when publishing), progress bars, and ``fresh``, which discards
    outputs the cell already has instead of resuming from them (a patched attack, CI's
    mutations, has the real attack's parameters, hence its output folder). ``compile`` runs the
    UNet through ``torch.compile`` (None: as ``BENCH_COMPILE`` says); compiled outputs and
    preparation are kept apart from eager ones, and the record says which ran. ``mutation``
    names one of the attack's mutations (``bench.attacks.mutations``: its mechanism switched
    off) to run instead of the attack itself, as CI's floor check does; such a run is measured,
    never published, so it needs ``write=False``."""

    write: bool = True
    results: Path | None = None
    progress: bool = True
    fresh: bool = False
    compile: bool | None = None
    mutation: str | None = None

    def __post_init__(self) -> None:
        if self.mutation is not None and self.write:
            raise BenchError("a mutated attack's run is never written: pass write=False")


def zoo_model(
    acard: AttackCard, scale: str | None, profile: str = "cpu", name: str | None = None
) -> ZooModel:
    """The zoo model named by ``name`` (checked against ``scale`` and ``profile``), or the one
    serving ``scale`` for the attack's conditioning."""
    return ZooModel(zoo_card(acard, scale, profile, name).name)
