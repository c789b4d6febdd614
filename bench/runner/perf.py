"""Behind `bench perf`: every throughput ratio of issue 17, measured in one run.

For each model timed (by default one per profile this CPU trains: `celeba-64-cpu` at 16 px and
`celeba-1k-ladder-cpu32` at 32 px, each at its own resolution and with its own architecture):
the sampling loop against bare UNet forwards, UNet throughput by images per call (what a
card's ``unet_batch`` chooses), the guided step of each attack that declares a
classifier (``Draws.guidance``, at its card's defaults for the model's profile) against an
unguided one, the zoo's training step against a bare diffusers loop, scoring
against the generation of the outputs it scores, each attack's candidate filter (carlini's clique
search, ``Attack.filter_outputs``) against the generation of the outputs it filters at the
largest N_G the suite runs, and peak memory of scoring and of streaming
generation at several N_G. Then, counted from the attacks' declared draws, the UNet evaluations
the sample pool saves the first model's grid.
``QUICK`` shrinks every workload so the whole report runs in a minute (a smoke check, never a
measurement to publish).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.attacks.base import Attack, load_attack
from bench.cards import ModelCard, attack_card, attack_names, model_card, validate
from bench.runner.memory import METHOD, scoring_memory, streaming_memory
from bench.runner.poolsaving import declared_draws, grid_saving
from bench.runner.throughput import (
    forward_by_unet_batch,
    guided_vs_unguided,
    loop_vs_forward,
    perf_model,
    train_vs_bare,
)
from bench.runner.workload import time_filter, time_scoring, time_sscd
from bench.zoo.build import sampling_steps


@dataclass(frozen=True)
class PerfSettings:
    """What `bench perf` measures, and how large each workload is.

    Args:
        models: the zoo cards timed, each at its own resolution (trained weights where the card
            has a checkpoint, else its architecture with seeded weights); the first one's grid
            is the pool's.
        batch: images per sampling batch (the suite's 256).
        steps: sampling steps for every model (None: each card's own).
        repeats: timed repeats of each side of a ratio (the fastest counts).
        train_steps: training steps per timed repeat.
        outputs, members: the scoring workload set against generation.
        filter_outputs: the N_G at which each attack's candidate filter is timed: the largest
            the suite runs, carlini's curves extended to side's 556,800 evaluations at 50 per
            output (docs/tuning/plan-36.md).
        sscd_images: images embedded per SSCD model to time its throughput.
        memory_budgets: the N_G at which peak memory is measured.
        memory_members: members scored against in the memory measurement.
        grid_seeds: the seeds of the grid whose pool saving is counted.
    """

    models: tuple[str, ...] = ("celeba-64-cpu", "celeba-1k-ladder-cpu32")
    batch: int = 256
    steps: int | None = None
    repeats: int = 3
    train_steps: int = 10
    outputs: int = 100_000
    members: int = 10_000
    filter_outputs: int = 11_136
    sscd_images: int = 64
    memory_budgets: tuple[int, ...] = (512, 2_048, 8_192)
    memory_members: int = 1_000
    grid_seeds: tuple[int, ...] = (0, 1, 2)


QUICK = {
    "batch": 16,
    "steps": 2,
    "repeats": 1,
    "train_steps": 2,
    "outputs": 2_000,
    "members": 200,
    "filter_outputs": 1_024,
    "sscd_images": 8,
    "memory_budgets": (64, 256, 1_024),
    "memory_members": 100,
}


# The filter's workload: a tenth of the outputs are copies of memorised images, in groups of a
# hundred near-duplicates (a memorising model at a large N_G, where carlini's exact search once
# ran without end); the rest are random and join no clique.
FILTER_SHARE = 0.1
FILTER_GROUP = 100


def declared_filters(card: ModelCard) -> dict[str, Any]:
    """Each attack that applies to ``card`` and declares a candidate filter, as its
    ``filter_outputs`` at its card's defaults for the model's profile."""
    out = {}
    for name in attack_names():
        acard = attack_card(name)
        if not acard.runs_on(card.conditioning, card.profile):
            continue
        attack = load_attack(acard, validate.attack_params(acard, card.profile, {}))
        if type(attack).filter_outputs is not Attack.filter_outputs:
            out[name] = attack.filter_outputs
    return out


def measure(settings: PerfSettings, progress: bool = False) -> dict[str, Any]:
    """Every measurement, as plain data for ``bench.report.performance``."""
    cards = [model_card(name) for name in settings.models]
    per_model = {}
    for card in cards:
        if progress:
            print(f"timing {card.name} at {card.resolution} px …", flush=True)
        per_model[card.name] = measure_model(card, settings)
    return {
        "settings": asdict(settings),
        "models": per_model,
        "memory_method": METHOD,
        "pool": asdict(grid_saving(cards[0], settings.grid_seeds)),
    }


def measure_model(card: ModelCard, settings: PerfSettings) -> dict[str, Any]:
    """One model's measurements: the sampling loop, UNet slices, guided steps, training, scoring,
    SSCD, candidate filters and memory."""
    res = card.resolution
    steps = settings.steps or sampling_steps(card)
    model = perf_model(card)
    loop = loop_vs_forward(model, settings.batch, steps, settings.repeats)
    memory: dict[str, dict[int, int]] = {"scoring": {}, "streaming": {}}
    for n in settings.memory_budgets:
        memory["scoring"][n] = scoring_memory(n, settings.memory_members, res)[0]
        memory["streaming"][n] = streaming_memory(model, n)[0]
    guided = {
        name: asdict(draws.guidance)
        | guided_vs_unguided(model, settings.batch, steps, settings.repeats, draws.guidance)
        for name, _, draws in declared_draws(card, card.profile, settings.batch, (0,))
        if draws.guidance is not None
    }
    return {
        "resolution": res,
        "steps": steps,
        "model": model.label,
        "architecture": model.card.architecture,
        "loop": loop,
        "unet_batch": model.denoiser.unet_batch,
        "slices": forward_by_unet_batch(model, settings.batch, settings.repeats),
        "guided": guided,
        "train": {
            "batch": int(model.card.training["batch"]),
            **train_vs_bare(model, settings.train_steps, settings.repeats),
        },
        "scoring": {
            "score_s": time_scoring(settings.outputs, settings.members, res),
            "generate_s": loop["seconds_per_output"] * settings.outputs,
        },
        # SSCD seconds per image against the seconds one output takes to generate.
        "sscd": {
            spec: {
                "seconds_per_image": time_sscd(spec, settings.sscd_images, res),
                "generate_s_per_output": loop["seconds_per_output"],
            }
            for spec in ("sscd", "sscd-distilled")
        },
        "filters": _filters(card, settings, loop["seconds_per_output"]),
        "memory": memory,
    }


def _filters(card: ModelCard, settings: PerfSettings, per_output: float) -> dict[str, Any]:
    """Each declared candidate filter timed at the largest N_G beside generating its outputs."""
    return {
        name: {
            "outputs": settings.filter_outputs,
            "share": FILTER_SHARE,
            "group": FILTER_GROUP,
            "generate_s": per_output * settings.filter_outputs,
            **time_filter(f, settings.filter_outputs, card.resolution, FILTER_SHARE, FILTER_GROUP),
        }
        for name, f in declared_filters(card).items()
    }
