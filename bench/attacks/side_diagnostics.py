"""Is SIDE doing what its paper says? Measured checks that travel with every SIDE record.

A ranking on the leaderboard is only explained if the mechanism is seen working: guidance should
land outputs in the clusters they were steered to (the steering rate, against chance 1/K′), and
the classifier that steers should recognise those clusters on fresh generations at the noise
levels where it acts (held-out accuracy by t). A time-independent classifier is expected to fall
towards chance as t grows; the paper's argument for SIDE rests on that gap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import numpy as np
import torch
from diffusers import DDPMScheduler
from pydantic import Field, model_validator

from bench.attacks.classifier import NoisyClassifier
from bench.attacks.clusters import SurrogateLabels
from bench.utils.imageio import to_tensor
from bench.utils.schema import Lenient, Strict

Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]

# Suite's choice: the noise levels the held-out accuracy is read at, as fractions of T, from clean
# images to the nearly pure noise where guidance starts (t = 0, 250, 500, 750, 900 for T = 1000).
ACCURACY_AT = (0.0, 0.25, 0.5, 0.75, 0.9)


def holdout_size(n_syn: int) -> int:
    """Fresh generations for the held-out accuracy: a quarter of the synthetic set the classifier
    learnt from (256 at the cpu default), at most 1,024. Suite's choice."""
    return min(1024, max(1, n_syn // 4))


def steering(
    outputs: np.ndarray,
    targets: np.ndarray,
    embed: Callable[[np.ndarray], np.ndarray],
    surrogate: SurrogateLabels,
) -> dict[str, float]:
    """Share of outputs whose nearest kept centroid is the cluster they were guided to."""
    landed = surrogate.assign(embed(outputs))
    return {
        "steering_rate": round(float((landed == targets[: len(outputs)]).mean()), 4),
        "steering_chance": round(1.0 / surrogate.kept, 4),
    }


def aim_audit(
    surrogate: SurrogateLabels, targets: np.ndarray, nearest: np.ndarray, copy: np.ndarray
) -> dict[str, float | int]:
    """Where SIDE aimed, read against the members after the run (a scoring diagnostic).

    A kept cluster "holds copies" when any synthetic image labelled to it is a high-band copy of a
    member. ``aimed_at_copies`` is the share of guided outputs whose target is such a cluster:
    outputs aimed elsewhere can only find a member by straying. ``synthetic_members`` counts the
    distinct members the synthetic set copies; with targets uniform over K′ kept clusters, the
    distinct members SIDE reaches are capped near min(K′, that count).
    """
    held = np.zeros(surrogate.kept, bool)
    if surrogate.kept:
        held[np.unique(surrogate.labels[copy])] = True
    return {
        "aimed_at_copies": round(float(held[targets].mean()), 4) if len(targets) else 0.0,
        "clusters_with_copies": int(held.sum()),
        "synthetic_copies": int(copy.sum()),
        "synthetic_members": int(len(np.unique(nearest[copy]))),
    }


def heldout_accuracy(
    clf: NoisyClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    scheduler: DDPMScheduler,
    seed: int,
) -> dict[str, float]:
    """Top-1 accuracy on x_t of fresh generations labelled by their nearest kept centroid."""
    device = next(clf.parameters()).device
    x0 = to_tensor(images).to(device)
    y = torch.as_tensor(labels).to(device)
    g = torch.Generator().manual_seed(seed)
    acc = {}
    with torch.no_grad():
        for frac in ACCURACY_AT:
            t = int(frac * scheduler.config.num_train_timesteps)
            tt = torch.full((len(x0),), t, dtype=torch.long)
            noise = torch.randn(x0.shape, generator=g).to(device)
            x = scheduler.add_noise(x0, noise, tt.to(device)) if t > 0 else x0
            pred = clf(x, tt.to(device)).argmax(1)
            acc[f"t{t}"] = round(float((pred == y).float().mean()), 4)
    return acc


class ClassifierStats(Strict):
    """What ``train_classifier`` reports, as SIDE's cached classifier keeps it
    (``RunStore.cached_tensors``): anything else in that cache is damage, never a record's."""

    train_accuracy_last_tenth: Share
    final_loss: Annotated[float, Field(ge=0)]


class AimAudit(Lenient):
    """``info.scored``: ``aim_audit``, read against the members after the run."""

    aimed_at_copies: Share
    clusters_with_copies: Count
    synthetic_copies: Count
    synthetic_members: Count


class SideInfo(Lenient):
    """A SIDE record's ``info`` as the leaderboard and the run summary read it
    (``Side.diagnostics``, ``Side.summary_lines``). Card v2 and older records carry no
    diagnostics at all; a record that carries some carries every one they read together, and a
    filter that kept no cluster never makes a record (the run stops first), so 0 clusters is
    a tampered or broken record, not a diagnostic to divide by."""

    clusters: Positive
    clusters_kept: Positive
    steering_rate: Share | None = None
    steering_chance: Annotated[float, Field(gt=0, le=1)] | None = None
    heldout_accuracy: Annotated[dict[str, Share], Field(min_length=1)] | None = None
    bar_median: float | None = None
    cohesion_median: float | None = None
    scored: AimAudit | None = None

    @model_validator(mode="after")
    def _read_together(self) -> SideInfo:
        if self.clusters_kept > self.clusters:
            raise ValueError(f"clusters_kept {self.clusters_kept} exceeds clusters {self.clusters}")
        groups = {
            "steering_rate": ("steering_chance", "heldout_accuracy"),
            "bar_median": ("cohesion_median", "scored"),
        }
        for key, needs in groups.items():
            if getattr(self, key) is not None:
                missing = [n for n in needs if getattr(self, n) is None]
                if missing:
                    raise ValueError(f"it has {key} but no {', '.join(missing)}")
        return self
