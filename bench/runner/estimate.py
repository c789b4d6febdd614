"""What a run still has to evaluate, phase by phase, counted before any slow work (issue 37 §2).

The attack declares every phase of a run from its parameters (``Attack.work``); this module takes
off what is already done (output shards on disk or a donor's, sample-pool batches, cached
preparation) and adds the runner's own phase, scoring. ``bench.runner.prices`` prices what is left,
and ``bench.runner.preflight`` announces it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.attacks.resumable import state_path, steps_done
from bench.attacks.work import Phase, Work
from bench.metrics.sscd_bands import calibrated_entry, descriptor_path
from bench.zoo.pool import SamplePool

# The files a cached preparation may be (``RunStore.cached_arrays`` and ``cached_tensors``).
_CACHED = (".npz", ".safetensors")


def remaining(
    work: Work, budget: int, missing: int, pool: SamplePool | None, prep_root: Path
) -> Work:
    """``work`` less what is done: ``missing`` of the ``budget`` outputs are still to make (an
    output phase shrinks in proportion), the pool holds some unguided batches (a pooled phase's
    UNet evaluations shrink to the images it lacks; what else the phase does with those images
    stays), preparation cached in ``prep_root`` costs nothing, and a resumable training there
    is short of the steps its saved state has done. A pooled output phase samples
    the outputs the shards lack and the pool lacks too: the pool holds every batch such a phase
    ever made, so the smaller of the two."""
    left = []
    for phase in work.phases:
        if phase.cached and any((prep_root / f"{phase.cached}{x}").is_file() for x in _CACHED):
            left.append(phase.scaled(0, 1))
            continue
        todo = phase.scaled(missing, budget) if phase.outputs else phase
        if phase.cached and phase.steps:
            done = min(phase.steps, steps_done(state_path(prep_root, phase.cached)))
            todo = todo.scaled(phase.steps - done, phase.steps)
        if phase.pooled is not None and pool is not None:
            held = pool.at_steps(phase.pool_steps) if phase.pool_steps else pool
            lacking = held.missing_images([phase.pooled])
            if phase.outputs:
                lacking = min(lacking, missing)
            todo = replace(todo, unet=phase.unet * lacking // max(1, phase.pooled[1]))
        left.append(todo)
    return replace(work, phases=tuple(left))


def scoring(
    budget: int,
    audited: int,
    references: tuple[tuple[int, str | None], tuple[int, str | None]],
    metrics: dict[str, Any],
    resolution: int,
) -> Phase:
    """The runner's scoring: every output against every member and non-member
    (``references``: each set's size and array cache key), and each image the attack hands over
    for audit (``Work.audited``) against the members. Where the dataset card scores SSCD at
    ``resolution``, each output's descriptor too, and each reference set's where no cached
    descriptors of it are on disk. Scoring is made again on every run, resumed or not."""
    (members, _), (nonmembers, _) = references
    distances = budget * (members + nonmembers) + audited * members
    entry = calibrated_entry(metrics, "sscd", resolution)
    if entry is None or not entry.allowed:
        return Phase("scoring", distances=distances)
    made = [
        n for n, key in references if key and descriptor_path(entry.model_sha256, key).is_file()
    ]
    return Phase("scoring", distances=distances, sscd=budget + members + nonmembers - sum(made))
