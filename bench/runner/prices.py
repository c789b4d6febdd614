"""What one evaluation of each kind costs here and now: the prices of a run's estimate.

Each kind a run counts (``bench.attacks.work``) is timed on the run's own model or an untrained
classifier of the declared shape, the way the run will make it, just before the run:

- a UNet evaluation: two steps of the sampling loop (``sample_batch``: scheduler, clamp and all)
  on a batch of ``TIMED_BATCH`` images, or the card's ``unet_batch`` where smaller, per image and
  step. Sampling runs batches of 256, so this errs long where a larger call is faster;
- a classifier training image, gradient or forward: ``GuidanceShape.seconds_per_image``, at the
  attack's training batch and at ``TIMED_BATCH``;
- a scoring distance: the metrics engine on a synthetic workload (``time_scoring``) of
  ``_SCORED`` outputs against up to 1,000 members and 1,000 non-members, per output-reference
  pair. Scoring time grows with that product; the fixed part of a small workload errs long;
- an SSCD descriptor (where the dataset card scores SSCD at the run's resolution): the int8 SSCD
  on ``_EMBEDDED`` images (``time_sscd``), per image, upsampling included.

Every timing is the fastest of three after a warm-up (``bench.utils.timing.fastest``), so a busy
machine's estimate is the price of its quiet moments, and it reads no random number of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diffusers import SchedulerMixin

from bench.attacks.work import KINDS, Phase, Work
from bench.runner.workload import time_scoring, time_sscd
from bench.utils.timing import fastest
from bench.zoo.denoiser import Denoiser
from bench.zoo.sampling import batch_generator, sample_batch

TIMED_BATCH = 64
_SCORED = 256  # outputs in the timed scoring workload
_EMBEDDED = 16  # images whose SSCD descriptors are timed


@dataclass(frozen=True)
class Prices:
    """Wall seconds of one evaluation, by kind (``bench.attacks.work.KINDS``); a kind the run
    does not make is absent."""

    seconds: dict[str, float]

    def of(self, phase: Phase) -> float:
        return sum(n * self.seconds[k] for k, n in phase.counts().items() if n)


def measure(
    work: Work,
    denoiser: Denoiser,
    make_sampler: Callable[[], SchedulerMixin],
    resolution: int,
    members: int,
    captions: list[str] | None = None,
) -> Prices:
    """The price of each kind ``work`` counts, timed now (see the module)."""
    total = work.total()
    seconds: dict[str, float] = {}
    batch = min(TIMED_BATCH, denoiser.unet_batch or TIMED_BATCH)
    if total["unet"]:
        seconds["unet"] = unet_seconds(denoiser, make_sampler, resolution, batch, captions)
    if work.classifier is not None and any(total[k] for k in KINDS if k.startswith("classifier")):
        seconds |= work.classifier.seconds_per_image(
            resolution, batch, max(1, work.train_batch), denoiser.device
        )
    if total["distances"]:
        references = min(members, 1_000)
        pairs = _SCORED * (references + 1_000)
        seconds["distances"] = time_scoring(_SCORED, references, resolution) / pairs
    if total["sscd"]:  # without the SSCD wheel scoring makes none: a notice says so
        seconds["sscd"] = time_sscd("sscd", _EMBEDDED, resolution) or 0.0
    return Prices(seconds)


def unet_seconds(
    denoiser: Denoiser,
    make_sampler: Callable[[], SchedulerMixin],
    resolution: int,
    batch: int,
    captions: list[str] | None = None,
) -> float:
    """Wall seconds of one UNet evaluation of one image in the sampling loop (see the module)."""
    texts = (list(captions) * batch)[:batch] if captions else None
    steps = 2

    def loop() -> object:
        generator = batch_generator(0, 0)
        return sample_batch(denoiser, make_sampler(), batch, resolution, steps, generator, texts)

    return fastest({"loop": loop}, repeats=3)["loop"] / (batch * steps)
