"""Behind `bench grid`: every applicable attack × trained zoo model × seed, into the leaderboard's
records.

Cells that already have a current record are skipped, so an interrupted grid resumes where it
stopped; a record made by an older attack card or checkpoint is re-run and replaced.
The remaining cells run in this process (``--executor serial``, the default) or as jobs on
submitit's local or Slurm executor (``bench.runner.executors``); a cell writes the same record
wherever it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cards import attack_card, dataset_card
from bench.records import read_record, record_path, staleness
from bench.runner.cell import default_budget
from bench.runner.spec import CellSpec, ZooModel


def grid_cells(
    profile: str = "cpu",
    seeds: Sequence[int] = (0, 1, 2),
    budget: int | None = None,
    attacks: list[str] | None = None,
    models: list[str] | None = None,
    data_root: str | None = None,
) -> list[CellSpec]:
    """The cells without a current record, in attack, model, seed order; the others are reported
    skipped, and a stale record (older attack card or checkpoint) is reported and re-run.
    ``attacks`` and ``models`` narrow the grid to those names (default: every card)."""
    from bench.cards import attack_names, model_cards
    from bench.zoo.load import checkpoint_status

    names = attacks or attack_names()
    cards = [
        c
        for c in model_cards()
        if c.profile == profile and c.role == "ranked" and (not models or c.name in models)
    ]
    cells = []
    for name in names:
        acard = attack_card(name)
        if profile not in acard.defaults:  # an attack runs in the profiles its card declares
            print(f"skip {name}: its card declares no {profile} profile", flush=True)
            continue
        for mcard in cards:
            if mcard.conditioning not in acard.applies_to or checkpoint_status(mcard) != "trained":
                continue
            for seed in seeds:
                params = acard.recorded(acard.params(profile))
                n_g = budget or default_budget(dataset_card(mcard.dataset), profile)
                probe = {
                    "attack": name,
                    "model": mcard.name,
                    "seed": seed,
                    "budget": n_g,
                    "params": params,
                }
                path = record_path(probe)
                stale = staleness(read_record(path)) if path.is_file() else "no record"
                if not stale:
                    print(f"skip {name} {mcard.name} seed {seed}: record exists", flush=True)
                    continue
                if path.is_file():
                    print(f"re-run {name} {mcard.name} seed {seed}: record is {stale}", flush=True)
                cells.append(
                    CellSpec(name, ZooModel(mcard.name), profile, seed, n_g, {}, data_root)
                )
    return cells
