"""The work a run will do, declared by its attack before it runs: phases and their evaluations.

`bench run --attack side --scale 5k` once announced "512 outputs × 50 steps = 25,600 UNet
evaluations … preparation and guidance add to it", and the preparation it left out was 16× that.
Only the attack knows its phases, so it declares them (``Attack.work``) from its resolved
parameters: each ``Phase`` counts the evaluations of each kind it makes, and says what lets the
runner skip part of it (outputs already on disk, sample-pool batches, cached preparation). The
runner prices each kind from timings taken on the machine (``bench.runner.prices``) and prints
the estimate before the slow work starts; a test holds each count to what a run then evaluates.

The kinds are priced separately because their costs differ by orders of magnitude: a UNet
evaluation of one image at one sampling step; one image through a classifier training step
(forward, backward, AdamW); one classifier input gradient (a guided step's forward and backward);
one classifier forward; and, in scoring, one output-to-reference distance and one image's SSCD
descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from bench.attacks.classifier import ClassifierGuidance, NoisyClassifier, train_step
from bench.utils.timing import fastest

KINDS = ("unet", "classifier_train", "classifier_grad", "classifier_forward", "distances", "sscd")
# How each kind reads in a sentence, by count.
KIND_WORDS = {
    "unet": "UNet evaluations",
    "classifier_train": "classifier training images",
    "classifier_grad": "classifier gradients",
    "classifier_forward": "classifier evaluations",
    "distances": "scoring distances",
    "sscd": "SSCD descriptors",
}


@dataclass(frozen=True)
class GuidanceShape:
    """The shape of the noisy classifier a run trains and guides with (``Draws.guidance``,
    ``Work.classifier``), so `bench perf` and the estimate can time its steps without training
    it. (The sampler's interface for a guide is ``bench.zoo.sampling.Guidance``.)

    Args:
        classes: its output classes (at most; SIDE's cohesion filter may keep fewer clusters).
        width: its channel width (``NoisyClassifier``).
        time_dependent: whether it takes the noise level as an input.
        scale: the guidance scale λ.
        stem: how much its input stem downsamples (``classifier.STEMS``).
    """

    classes: int
    width: int
    time_dependent: bool
    scale: float
    stem: int

    def untrained(self, device: torch.device) -> ClassifierGuidance:
        """A guide of this shape with seeded random weights: what its guided step costs does not
        depend on the weights, so `bench perf` times this instead of training one."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            clf = NoisyClassifier(self.classes, self.width, self.time_dependent, self.stem)
        return ClassifierGuidance(clf.to(device).eval().requires_grad_(False), self.scale)

    def seconds_per_image(
        self, resolution: int, batch: int, train_batch: int, device: torch.device
    ) -> dict[str, float]:
        """Wall seconds per image of each classifier kind (``classifier_train`` at
        ``train_batch`` images a step, the others at ``batch``), the fastest of three timed
        calls after a warm-up. Seeded weights and inputs, under a forked RNG: the run's own
        draws are untouched."""
        guide = self.untrained(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            trainee = NoisyClassifier(self.classes, self.width, self.time_dependent, self.stem).to(
                device
            )
            x = torch.randn(max(batch, train_batch), 3, resolution, resolution).to(device)
        opt = torch.optim.AdamW(trainee.parameters(), lr=0.0)  # lr 0: the weights stay put
        t = torch.full((len(x),), 500, dtype=torch.long, device=device)
        y = torch.arange(len(x), device=device) % self.classes
        n = slice(0, batch)
        calls = {
            "classifier_train": (
                lambda: train_step(trainee, opt, x[:train_batch], t[:train_batch], y[:train_batch]),
                train_batch,
            ),
            "classifier_grad": (lambda: guide.log_prob_grad(x[n], t[n], y[n]), batch),
            "classifier_forward": (lambda: _forward(guide.classifier, x[n], t[n]), batch),
        }
        best = fastest({kind: call for kind, (call, _) in calls.items()}, repeats=3)
        return {kind: best[kind] / images for kind, (_, images) in calls.items()}


@torch.no_grad()
def _forward(clf: NoisyClassifier, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.softmax(clf(x, t), dim=1)


@dataclass(frozen=True)
class Phase:
    """One phase of a run, counted before it runs.

    Args:
        name: what progress and the estimate call it ("synthetic set", "guided sampling").
        unet, classifier_train, classifier_grad, classifier_forward, distances, sscd: the
            evaluations of each kind it makes (see the module's docstring), all of them, as if
            nothing were on disk yet.
        outputs: whether it makes the run's outputs, so output shards already on disk (or a
            donor's) shorten it in proportion.
        pooled: the unguided draw it samples, as (seed, images), so the batches the sample pool
            already holds shorten it.
        pool_steps: the sampler steps of that draw where they are not the run's (0: the run's).
        cached: the preparation key its product is cached under in the run's preparation folder
            (``RunStore.cached_tensors``); once cached, the phase costs nothing.
        steps: for a resumable training that keeps its state under ``cached``'s key
            (``RunStore.state_file``), its steps: those a saved state has done shorten it.
    """

    name: str
    unet: int = 0
    classifier_train: int = 0
    classifier_grad: int = 0
    classifier_forward: int = 0
    distances: int = 0
    sscd: int = 0
    outputs: bool = False
    pooled: tuple[int, int] | None = None
    pool_steps: int = 0
    cached: str | None = None
    steps: int = 0

    def counts(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in KINDS}

    def scaled(self, kept: int, of: int) -> Phase:
        """The phase with ``kept`` of its ``of`` units (outputs, pool images) still to make."""
        if of <= 0:
            return self
        return replace(self, **{kind: count * kept // of for kind, count in self.counts().items()})

    def describe(self) -> str:
        """Its counts as words: "25,600 UNet evaluations + 25,600 classifier gradients"."""
        shown = [f"{n:,} {KIND_WORDS[k]}" for k, n in self.counts().items() if n]
        return " + ".join(shown) or "nothing left to evaluate"


@dataclass(frozen=True)
class Work:
    """Every phase of a run, in order, and what prices the classifier kinds.

    Args:
        phases: the phases, in the order the run makes them.
        classifier: the shape of the classifier it trains or guides with, when it has one.
        train_batch: images per classifier training step (what that step's price is timed at).
        audited: images the runner scores against the members after the run
            (``AttackResult.audit``), part of its scoring phase.
    """

    phases: tuple[Phase, ...]
    classifier: GuidanceShape | None = None
    train_batch: int = 0
    audited: int = 0

    def total(self) -> dict[str, int]:
        return {k: sum(getattr(p, k) for p in self.phases) for k in KINDS}

    def with_phase(self, phase: Phase) -> Work:
        return replace(self, phases=(*self.phases, phase))
