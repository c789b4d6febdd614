"""SIDE: Surrogate condItional Data Extraction (Chen, Wang, Zou, Ma; arXiv 2410.02467).

Threat model: white-box access to an unconditional model; no training data. SIDE makes the model
conditional with labels it invents: cluster N_syn generations, keep cohesive clusters (τ), train a
time-dependent classifier p_φ(c | x_t, t) on noised images, then sample with classifier guidance
(Eq. 5) toward clusters drawn uniformly. Every guided sample is an output; there is no filter.

``SideTI`` is the paper's "Carlini Cond" baseline: the same pipeline with a time-independent
classifier trained on clean generations — the only difference, so everything else is shared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import torch

from bench.attacks.base import Attack, AttackResult, Audit, Draws, GuidanceShape, ModelView
from bench.attacks.classifier import (
    BLOCK_DOWNSAMPLING,
    GROUPS,
    STEMS,
    ClassifierGuidance,
    NoisyClassifier,
    train_classifier,
)
from bench.attacks.clusters import surrogate_labels
from bench.attacks.features import check_spec, fit_features
from bench.attacks.generation import generate_outputs, generate_prep
from bench.attacks.side_diagnostics import (
    ACCURACY_AT,
    ClassifierStats,
    SideInfo,
    aim_audit,
    heldout_accuracy,
    holdout_size,
    steering,
)
from bench.attacks.work import Phase, Work
from bench.errors import BenchError
from bench.utils.imageio import to_tensor


class Side(Attack):
    """SIDE: Surrogate condItional Data Extraction.

    Paper: Chen, Wang, Zou, Ma, "Extracting Training Data from Unconditional Diffusion Models"
    (arXiv 2410.02467), §4. Threat model: white-box access to an unconditional model (its
    denoiser and noise schedule); no training image and no caption.

    Args:
        guidance_scale: λ, the classifier guidance scale (Eq. 5); 0 samples unguided.
        n_syn: N_syn, the synthetic set of unguided generations that is clustered.
        n_clusters: K, the clusters (surrogate classes) of the synthetic set.
        tau: τ, the absolute cohesion floor a kept cluster must reach (cosine in feature space).
        tau_null_q: the quantile of a structureless null that a kept cluster's cohesion must
            also reach (``bench.attacks.clusters``); 0 keeps every cluster above ``tau``.
        features: the feature space clusters are formed in (``pca``, ``unet-mid``,
            ``sscd:PATH``; ``bench.attacks.features``).
        pca_dim: the dimensions of the pixel-PCA features.
        clf_steps, clf_batch, clf_lr, clf_width: the classifier's training steps, batch,
            AdamW learning rate and channel width (``bench.attacks.classifier``).
        clf_stem: how much the classifier's input stem downsamples (``classifier.STEMS``): 1 the
            full-resolution 3×3 convolution, 4 ResNet34's stem, which keeps a 64 px classifier
            at the 16 px one's cost (docs/tuning/side-cpu64.md).
        syn_steps: the sampler steps of the synthetic set and the held-out check; 0 takes the
            model's own (the outputs' steps). The synthetic set only feeds clustering and the
            classifier, so it may be drawn coarser than the outputs (issue 37 §1). At steps of its
            own it lies in a pool setting of its own: the estimate reads that setting, while the
            disk check and the grid's pool accounting (``draws``) count only the run's setting.

    Mechanisms it owns, which ``mutations`` replace on one instance: ``time_dependent`` (whether
    the classifier sees the noise level; side-ti is SIDE without it) and ``guide`` (the class
    that turns the trained classifier and λ into the sampler's gradient).
    """

    name = "side"
    threat_model = "white-box"
    time_dependent = True
    guide: type[ClassifierGuidance] = ClassifierGuidance

    def __init__(
        self,
        guidance_scale: float,
        n_syn: int,
        n_clusters: int,
        tau: float,
        tau_null_q: float,
        features: str,
        pca_dim: int,
        clf_steps: int,
        clf_batch: int,
        clf_lr: float,
        clf_width: int,
        clf_stem: int,
        syn_steps: int,
    ) -> None:
        self.guidance_scale = guidance_scale
        self.n_syn = n_syn
        self.n_clusters = n_clusters
        self.tau = tau
        self.tau_null_q = tau_null_q
        if clf_width % GROUPS:  # every block of the classifier normalises in GROUPS groups
            raise BenchError(
                f"{self.name} parameter clf_width ({clf_width}) must be a multiple of {GROUPS}"
            )
        if n_clusters > n_syn:  # k-means cannot make more clusters than it has images
            raise BenchError(
                f"{self.name} parameter n_clusters ({n_clusters}) exceeds n_syn ({n_syn}): "
                "k-means needs at least one synthetic image per cluster"
            )
        self.features = check_spec(features, f"{self.name} parameter features")
        self.pca_dim = pca_dim
        if clf_stem not in STEMS:
            raise BenchError(
                f"{self.name} parameter clf_stem ({clf_stem}) must be one of "
                f"{', '.join(map(str, STEMS))}"
            )
        self.clf = {"steps": clf_steps, "batch": clf_batch, "lr": clf_lr, "width": clf_width}
        self.clf_stem = clf_stem
        self.syn_steps = syn_steps

    def _classifier_key(self, seed: int) -> str:
        """The preparation key the trained classifier is cached under: everything it depends
        on, so a λ sweep shares it and side-ti (``time_dependent``) does not."""
        digest = hashlib.sha256(
            json.dumps(
                [
                    self.time_dependent,
                    self.n_syn,
                    self.n_clusters,
                    self.tau,
                    *([self.tau_null_q] if self.tau_null_q else []),
                    self.features,
                    self.pca_dim,
                    self.clf,
                    *([{"stem": self.clf_stem}] if self.clf_stem != 1 else []),
                    *([{"syn_steps": self.syn_steps}] if self.syn_steps else []),
                    seed,
                ],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        return f"classifier-{digest}"

    def _classifier(
        self, view: ModelView, synthetic: np.ndarray, labels: np.ndarray, kept: int, seed: int
    ) -> tuple[NoisyClassifier, dict]:
        key = self._classifier_key(seed)
        # The training's state while it runs, in the preparation folder beside the classifier it
        # becomes, so an interrupted run resumes the training instead of restarting it.
        resume = view.store.state_file(key, "classifier training state")

        def make() -> tuple[dict[str, torch.Tensor], dict]:
            clf, stats = train_classifier(
                to_tensor(synthetic),
                labels,
                kept,
                view.denoiser.scheduler,
                time_dependent=self.time_dependent,
                steps=self.clf["steps"],
                batch=self.clf["batch"],
                lr=self.clf["lr"],
                width=self.clf["width"],
                stem=self.clf_stem,
                seed=seed,
                state=resume,
            )
            return {k: v.cpu() for k, v in clf.state_dict().items()}, stats

        clf = NoisyClassifier(kept, self.clf["width"], self.time_dependent, self.clf_stem)

        def check(state: dict[str, torch.Tensor]) -> None:
            try:  # a cached state for another architecture is remade, not a traceback
                clf.load_state_dict(state)
            except RuntimeError as exc:
                raise ValueError(str(exc).splitlines()[0]) from None

        weights, stats = view.store.cached_tensors(key, make, check, schema=ClassifierStats)
        if view.store.ranks.is_main:
            resume.remove()  # the classifier is cached: its training is done
        clf.load_state_dict(weights)
        clf.to(view.denoiser.device).eval().requires_grad_(False)
        return clf, stats

    def check_model(self, resolution: int) -> None:
        """The classifier's stem and blocks downsample by ``clf_stem`` × 4: the images must
        divide into that, or its last blocks would see fractional grids."""
        factor = self.clf_stem * BLOCK_DOWNSAMPLING
        if resolution % factor:
            raise BenchError(
                f"{self.name} parameter clf_stem ({self.clf_stem}) needs images whose side is a "
                f"multiple of {factor}; this model's are {resolution} px"
            )

    def draws(self, budget: int, seed: int) -> Draws:
        """Guided outputs, the synthetic set at seed + 1 and the held-out check at seed + 2 (pool
        draws at the outputs' steps; at steps of their own they are not declared)."""
        prep = ((seed + 1, self.n_syn), (seed + 2, holdout_size(self.n_syn)))
        if self.syn_steps:
            prep = ()
        guidance = GuidanceShape(
            classes=self.n_clusters,
            width=self.clf["width"],
            time_dependent=self.time_dependent,
            scale=self.guidance_scale,
            stem=self.clf_stem,
        )
        return Draws(outputs=budget, unguided_outputs=False, prep=prep, guidance=guidance)

    def work(self, budget: int, seed: int, steps: int) -> Work:
        """The synthetic set (pooled), the UNet-feature pass where features are ``unet-mid``,
        the classifier's training (cached once made), the guided outputs (a UNet evaluation and
        a classifier gradient per output and step) and the held-out check (pooled, and five
        classifier forwards per image, one per noise level of ``ACCURACY_AT``)."""
        n_fresh = holdout_size(self.n_syn)
        prep_steps = self.syn_steps or steps
        phases = [
            Phase(
                "synthetic set",
                unet=self.n_syn * prep_steps,
                pooled=(seed + 1, self.n_syn),
                pool_steps=self.syn_steps,
            ),
            Phase(
                "classifier training",
                classifier_train=self.clf["steps"] * self.clf["batch"],
                cached=self._classifier_key(seed),
                steps=self.clf["steps"],
            ),
            Phase(
                "guided sampling",
                unet=budget * steps,
                classifier_grad=budget * steps,
                outputs=True,
            ),
            Phase(
                "held-out check",
                unet=n_fresh * prep_steps,
                classifier_forward=len(ACCURACY_AT) * n_fresh,
                pooled=(seed + 2, n_fresh),
                pool_steps=self.syn_steps,
            ),
        ]
        if self.features == "unet-mid":
            # A UNet forward per embedded image: the synthetic set twice (fitting the PCA, then
            # embedding), the held-out images and the outputs once each.
            embedded = 2 * self.n_syn + n_fresh + budget
            phases.insert(1, Phase("UNet features", unet=embedded))
        return Work(
            tuple(phases),
            classifier=self.draws(budget, seed).guidance,
            train_batch=self.clf["batch"],
            audited=self.n_syn,
        )

    def run(self, view: ModelView, budget: int, seed: int) -> AttackResult:
        if view.conditioning != "unconditional":
            raise BenchError(f"{self.name} attacks unconditional models")
        prep_view = replace(view, sampling_steps=self.syn_steps) if self.syn_steps else view
        synthetic, prep_unet = generate_prep(prep_view, self.n_syn, seed + 1, phase="synthetic set")
        embed = fit_features(synthetic, self.features, self.pca_dim, view.denoiser)
        surrogate = surrogate_labels(
            embed(synthetic), self.n_clusters, self.tau, seed, self.tau_null_q
        )
        if surrogate.kept == 0:
            raise BenchError(
                f"{self.name}: no cluster reached its cohesion bar (τ={self.tau}, null quantile "
                f"{self.tau_null_q}; lowest bar {surrogate.bars.min():.3f}, best cohesion "
                f"{surrogate.cohesion.max():.3f}); lower tau or tau_null_q, or change features"
            )
        clf, stats = self._classifier(view, synthetic, surrogate.labels, surrogate.kept, seed)
        clf_train_evals = self.clf["steps"] * self.clf["batch"]
        rng = np.random.default_rng([seed, 7])
        targets = rng.integers(0, surrogate.kept, budget)
        guidance = self.guide(clf, self.guidance_scale)
        unet, classifier = generate_outputs(view, budget, seed, guidance=guidance, labels=targets)
        # Diagnostics read fresh generations (another seed) and are not part of the attack's cost.
        n_fresh = holdout_size(self.n_syn)
        fresh, _ = generate_prep(
            prep_view, n_fresh, seed + 2, phase="held-out check", charged=False
        )
        accuracy = heldout_accuracy(
            clf, fresh, surrogate.assign(embed(fresh)), view.denoiser.scheduler, seed + 3
        )
        return AttackResult(
            n_outputs=budget,
            unet_evaluations=unet + prep_unet,
            classifier_evaluations=classifier + clf_train_evals,
            prep_unet_evaluations=prep_unet,
            prep_classifier_evaluations=clf_train_evals,
            audit=Audit(synthetic, partial(aim_audit, surrogate, targets)),
            info={
                **surrogate.summary(),
                "guidance_scale": self.guidance_scale,
                "time_dependent": self.time_dependent,
                **stats,
                **steering(view.store.images(), targets, embed, surrogate),
                "heldout_accuracy": accuracy,
                "heldout_n": n_fresh,
            },
        )

    # What CI floors beyond extraction, and what the leaderboard shows: the mechanism at work.
    floor_metrics = ("info.steering_rate",)
    info_schema = SideInfo
    diagnostics_title = "SIDE's mechanism"
    diagnostics_text = (
        "Steering: the share of guided outputs whose nearest kept centroid (in the attack's "
        "feature space) is the cluster they were guided to, against chance 1/K′. Classifier "
        "accuracy: on fresh generations labelled by nearest centroid, at t = 0, T/2 and 0.9T. "
        "Clusters kept: K′/K after the cohesion filter; 'all K kept' is the share of seeds whose "
        "filter kept every cluster (100% flags a filter that selected nothing). Aimed at copies: "
        "the share of guided outputs whose target cluster holds a synthetic image that copies a "
        "member (scored after the run; the attack never sees members). Card v2 and older "
        "records predate these columns."
    )

    @classmethod
    def diagnostics(cls, info: dict[str, Any]) -> dict[str, float]:
        """Steering rate against chance, and held-out accuracy clean, at T/2 and at 0.9T."""
        if "steering_rate" not in info:
            return {}
        acc = info["heldout_accuracy"]
        keys = list(acc)
        out = {
            "steering %": info["steering_rate"],
            "chance %": info["steering_chance"],
            "clf acc clean %": acc[keys[0]],
            "clf acc t=T/2 %": acc[keys[len(keys) // 2]],
            "clf acc t=0.9T %": acc[keys[-1]],
        }
        if "bar_median" in info:  # card v3 on: the calibrated filter and the aim audit
            out["clusters kept %"] = info["clusters_kept"] / info["clusters"]
            out["all K kept %"] = float(info["clusters_kept"] == info["clusters"])
            out["aimed at copies %"] = info["scored"]["aimed_at_copies"]
        return out

    @classmethod
    def records_note(cls, infos: list[dict[str, Any]]) -> str:
        """Whether the cohesion filter dropped anything: the clusters kept, over the records."""
        kept = [(i["clusters_kept"], i["clusters"]) for i in infos if "clusters_kept" in i]
        if not kept:
            return ""
        if all(k == n for k, n in kept):
            return f"its filter kept all K clusters in each of {len(kept)} records"
        low, high = min(k for k, _ in kept), max(k for k, _ in kept)
        span = f"{low}" if low == high else f"{low}-{high}"
        return f"its filter kept {span} of K = {kept[0][1]} clusters across {len(kept)} records"

    @classmethod
    def summary_lines(cls, info: dict[str, Any]) -> list[str]:
        if "steering_rate" not in info:
            return []
        acc = ", ".join(f"{t}: {a:.2f}" for t, a in info["heldout_accuracy"].items())
        lines = [
            f"SIDE diagnostics: steering {100 * info['steering_rate']:.1f}% (chance "
            f"{100 * info['steering_chance']:.1f}%); classifier held-out accuracy by t: {acc}"
        ]
        if "bar_median" in info:
            scored = info["scored"]
            lines.append(
                f"cohesion filter: kept {info['clusters_kept']} of {info['clusters']} clusters "
                f"(cohesion median {info['cohesion_median']:.3f} against a null bar of "
                f"{info['bar_median']:.3f}); {100 * scored['aimed_at_copies']:.1f}% of outputs "
                f"aimed at clusters holding member copies; the synthetic set copies "
                f"{scored['synthetic_members']} distinct members (targets spread over "
                f"K′ = {info['clusters_kept']} clusters)"
            )
        return lines

    @classmethod
    def mutations(cls) -> dict[str, Callable[[Attack], None]]:
        """The gradient's sign flipped, and (for the time-dependent attack) a time-independent
        classifier: side-ti is a Side without time, so it has no such mutation."""
        found = {"gradient sign flipped": _flipped_gradient}
        if cls.time_dependent:
            found["time-independent classifier"] = _time_independent
        return found


class FlippedGuidance(ClassifierGuidance):
    """The classifier's gradient negated: guidance pushes each output away from its target."""

    def log_prob_grad(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        return -super().log_prob_grad(x_t, t, labels)


def _flipped_gradient(attack: Attack) -> None:
    attack.guide = FlippedGuidance


def _time_independent(attack: Attack) -> None:
    attack.time_dependent = False


class SideTI(Side):
    """SIDE's baseline "Carlini Cond": the same pipeline, with a time-independent classifier.

    Paper: Chen et al. (arXiv 2410.02467), the baseline of their Table 1: classifier guidance
    with a classifier trained on clean generations, which ignores the noise level. Threat model
    and arguments: ``Side``'s; the only difference is ``time_dependent = False``, so the two
    isolate what time dependence buys.
    """

    name = "side-ti"
    time_dependent = False
