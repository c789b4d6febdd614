"""The attack interface and the threat model, in types.

An attack sees a ``ModelView``: the denoiser, its schedules, the conditioning interface, the
training captions only where its threat model grants them, and a ``RunStore`` to stream outputs
into. It never sees the training images: the harness alone holds members and non-members.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from diffusers import SchedulerMixin
from pydantic import BaseModel

from bench.attacks.cliques import CliqueSearch
from bench.attacks.store import RunStore
from bench.attacks.work import GuidanceShape, Phase, Work
from bench.cards import AttackCard
from bench.errors import BenchError
from bench.zoo.denoiser import Denoiser
from bench.zoo.sampling import BATCH, sample

THREAT_MODELS = ("white-box", "white-box+captions")
SHARD = BATCH  # samples per batch and per output shard


@dataclass(frozen=True)
class ModelView:
    """What an attacker may touch. ``captions`` is None unless the threat model grants them.

    Args:
        denoiser: the model (UNet, its training schedule, caption encoder if any).
        make_sampler: a fresh diffusers scheduler for sampling, per call.
        resolution: image side in pixels.
        sampling_steps: the sampler steps the model's card (or ``--steps``) sets.
        conditioning: ``unconditional`` or ``caption``.
        store: where outputs stream to and preparation is cached.
        captions: the training captions, only under ``white-box+captions``.
    """

    denoiser: Denoiser
    make_sampler: Callable[[], SchedulerMixin]
    resolution: int
    sampling_steps: int
    conditioning: str
    store: RunStore
    captions: tuple[str, ...] | None = None

    def sample(self, n: int, seed: int, **kwargs: Any) -> Iterator[np.ndarray]:
        """uint8 batches of ``SHARD`` samples from the model (``bench.zoo.sampling.sample``)."""
        return sample(
            self.denoiser,
            self.make_sampler(),
            n,
            self.resolution,
            self.sampling_steps,
            seed,
            batch=SHARD,
            **kwargs,
        )


@dataclass(frozen=True)
class Audit:
    """Images an attack made on the way (not outputs) that the harness checks against the members
    after the run, and the attack's own reading of that check.

    The attack never sees a member: ``summarise`` receives, per audited image, the index of its
    nearest member and whether it lies in the high band (a copy), and returns diagnostics for the
    record's ``info["scored"]``. They explain a result (did SIDE aim at clusters that hold copies?)
    and are never an input to the attack.
    """

    images: np.ndarray  # uint8 (N, R, R, 3)
    summarise: Callable[[np.ndarray, np.ndarray], dict[str, Any]]


@dataclass
class AttackResult:
    """Outputs live in the view's store; the result carries what scoring and the record need.

    Args:
        n_outputs: outputs written (the budget).
        unet_evaluations: every UNet evaluation, preparation included.
        classifier_evaluations: every classifier evaluation, training included.
        filtering: True when the answer is ranked ``candidates`` (clique filters).
        candidates: ranked uint8 (C, R, R, 3), or None when no clique formed.
        info: what the attack reports about itself (its diagnostics), into the record.
        prep_unet_evaluations: of the UNet evaluations, those spent before the first output.
        prep_classifier_evaluations: likewise for the classifier.
        audit: images made on the way that the runner scores against the members afterwards
            (into ``info["scored"]``); see ``Audit``.
    """

    n_outputs: int
    unet_evaluations: int
    classifier_evaluations: int = 0
    filtering: bool = False  # True for attacks whose answer is ranked candidates (clique filters)
    candidates: np.ndarray | None = None  # ranked uint8 (C, R, R, 3); None when no clique formed
    info: dict[str, Any] = field(default_factory=dict)
    # Evaluations spent before the first output (e.g. SIDE's synthetic set and classifier): the
    # rest scales with the number of outputs, which is what prices a prefix on a budget curve.
    prep_unet_evaluations: int = 0
    prep_classifier_evaluations: int = 0
    audit: Audit | None = None  # scored by the harness after the run; see ``Audit``

    @property
    def cost(self) -> dict[str, int]:
        return {
            "unet_evaluations": self.unet_evaluations,
            "classifier_evaluations": self.classifier_evaluations,
            "prep_unet_evaluations": self.prep_unet_evaluations,
            "prep_classifier_evaluations": self.prep_classifier_evaluations,
        }


@dataclass(frozen=True)
class Draws:
    """The sampling one run does, declared without running it (``Attack.draws``).

    Args:
        outputs: outputs the run samples (its budget).
        unguided_outputs: whether those outputs are unguided, uncaptioned draws at the run seed,
            which the sample pool shares with other cells (``bench.zoo.pool``).
        prep: unguided preparation draws, as (seed, images): SIDE's synthetic set and held-out
            check. The pool shares them too.
        guidance: the classifier guiding the outputs, for an attack that guides them.
    """

    outputs: int
    unguided_outputs: bool
    prep: tuple[tuple[int, int], ...] = ()
    guidance: GuidanceShape | None = None

    def unguided(self, seed: int) -> list[tuple[int, int]]:
        """Every unguided draw of a run at ``seed``, as (seed, images)."""
        return ([(seed, self.outputs)] if self.unguided_outputs else []) + list(self.prep)


class Attack(ABC):
    """Base class. The constructor is the attack's configuration: it takes exactly the parameters
    the card declares (``[params.<name>]``), each without a default, so every value an attack runs
    with comes from its card (or an override) and is in the record's ``params``.

    A mechanism the attack relies on (its candidate filter, its guide) is an attribute of the
    attack, so a mutation (``mutations``) switches it off by replacing that attribute on one
    instance; nothing patches a module path.
    """

    name: str = ""
    threat_model: str = "white-box"
    # True when the first N outputs of a seeded run at budget M ≥ N are that run at budget N (each
    # output drawn on its own, in a fixed order), so `bench curve` scores prefixes of one run.
    prefix_valid: bool = True
    # Record metrics CI floors for this attack beyond the suite's extraction metrics: dotted
    # paths into the record such as ``info.steering_rate`` (see ``bench.runner.floors.metric``).
    floor_metrics: tuple[str, ...] = ()
    # The leaderboard section that shows ``diagnostics`` (one section per title; subclasses that
    # keep the title share its table).
    diagnostics_title: str = ""
    diagnostics_text: str = ""
    # The schema of the ``info`` its records carry, checked before `bench report` reads their
    # diagnostics (a record claiming 0 clusters divided by zero); None: the report reads none.
    info_schema: type[BaseModel] | None = None

    @abstractmethod
    def run(self, view: ModelView, budget: int, seed: int) -> AttackResult:
        """Produce ``budget`` outputs into ``view.store`` and report the cost.

        Args:
            view: what the threat model grants (denoiser, sampler factory, resolution, sampling
                steps, conditioning, the store for outputs, captions where granted).
            budget: N_G, the exact number of uint8 outputs to write into ``view.store``.
            seed: the run seed; every random draw must derive from it.

        Returns:
            The cost and what scoring needs (``AttackResult``); the outputs stay in the store.
        """

    def check_model(self, resolution: int) -> None:
        """Refuse, with a BenchError, a model whose images this configuration cannot handle (a
        tile grid that does not divide them, say). Called when the cell is planned, before any
        image is read or sampled; the default accepts every model."""
        return None

    def peak_memory(self, budget: int, resolution: int) -> int:
        """The bytes a run at ``budget`` on ``resolution`` px images needs at most beyond the
        model, where a parameter makes it grow past what scoring needs (text-conditional's
        per_caption: the clique filter's graph grows as its square); checked against the
        machine's memory when the cell is planned, before any sampling. 0: no parameter does."""
        return 0

    def candidate_indices(self, images: np.ndarray) -> np.ndarray | None:
        """For an attack whose answer is ranked candidates picked from its own outputs: the
        indices of the outputs it picks, in rank order, found again from ``images`` (so a
        membership score can re-rank them, ``bench.membership.rerank``); None when its
        candidates are not a function of the outputs alone. The default picks none."""
        return None

    def draws(self, budget: int, seed: int) -> Draws | None:
        """What a run at ``budget`` and ``seed`` samples (``Draws``), so `bench perf` can count
        what the sample pool saves a grid and time the guided step without sampling; None when
        the attack does not say."""
        return None

    def filter_outputs(self, images: np.ndarray) -> CliqueSearch | None:
        """The attack's candidate filter over a whole run's generations at its parameters, so
        `bench perf` can time it against generating them; None for an attack without one (or
        whose filter needs more than the images, as per-caption groups do)."""
        return None

    def work(self, budget: int, seed: int, steps: int) -> Work:
        """Every evaluation a run at ``budget`` and ``seed`` on a model sampled in ``steps``
        steps will make, phase by phase (``bench.attacks.work``), so the runner can estimate
        its time before starting it. The default is one sampling phase of ``budget`` outputs,
        pooled when ``draws`` says they are unguided; an attack that prepares, guides or
        samples differently declares its own phases."""
        draws = self.draws(budget, seed)
        pooled = (seed, budget) if draws is not None and draws.unguided_outputs else None
        return Work((Phase("sampling", unet=budget * steps, outputs=True, pooled=pooled),))

    @classmethod
    def diagnostics(cls, info: dict[str, Any]) -> dict[str, float]:
        """Leaderboard columns from a record's ``info``: label -> a fraction, shown as a
        percentage under ``diagnostics_title``; empty when the record does not measure them."""
        return {}

    @classmethod
    def summary_lines(cls, info: dict[str, Any]) -> list[str]:
        """Lines `bench run` prints under a record's summary about the attack's mechanism."""
        return []

    @classmethod
    def records_note(cls, infos: list[dict[str, Any]]) -> str:
        """One clause the leaderboard's answer prints beside the attack's variant: what its
        mechanism did across these records' ``info`` (SIDE: the clusters its filter kept); empty
        when there is nothing to say."""
        return ""

    @classmethod
    def mutations(cls) -> dict[str, Callable[[Attack], None]]:
        """Code mutations that switch a mechanism of the attack off, by name: each replaces one
        of the attack's own mechanism attributes on the instance it is given
        (``bench.attacks.mutations``). Those that only change parameters are the card's
        ``off`` values."""
        return {}


def _import(module_name: str, implementation: str, card_path: Path) -> ModuleType:
    """An installed module, or else one kept beside the card folder that declares it, so an
    attack added through ``BENCH_CARDS`` needs no install and no PYTHONPATH.

    Only the module itself being absent means "no such module"; anything the module raises
    while it is imported (a broken import inside it, a syntax error) is reported as itself, with
    the file and line, since that is what the user has to fix.
    """
    local = card_path.parent.parent / (module_name.replace(".", "/") + ".py")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _names_module(exc.name, module_name):
            raise BenchError(_import_failure(card_path, module_name, exc)) from None
        if not local.is_file():
            raise BenchError(
                f"attack card {card_path} names {implementation}, but no module "
                f"{module_name} is installed or kept at {local}"
            ) from None
    except Exception as exc:
        raise BenchError(_import_failure(card_path, module_name, exc)) from None
    spec = importlib.util.spec_from_file_location(module_name, local)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise BenchError(_import_failure(card_path, module_name, exc)) from None
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _names_module(missing: str, module_name: str) -> bool:
    """Whether a ModuleNotFoundError for ``missing`` is about ``module_name`` or a package of it."""
    return module_name == missing or module_name.startswith(missing + ".")


def _import_failure(card_path: Path, module_name: str, exc: BaseException) -> str:
    """One line: the card, the module, and the error the module raised, at its innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}, line {exc.lineno})"
    message = " ".join(str(exc).split())
    return (
        f"attack card {card_path}: importing {module_name} failed{where}: "
        f"{type(exc).__name__}: {message}"
    )


def implementation_class(implementation: str, card_path: Path) -> type[Attack]:
    """The ``module:Class`` a card names, checked to be an ``Attack`` subclass."""
    module_name, _, cls_name = implementation.partition(":")
    module = _import(module_name, implementation, card_path)
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise BenchError(
            f"attack card {card_path} names {implementation}, but module {module_name} "
            f"({module.__file__}) defines no {cls_name}"
        )
    if not (isinstance(cls, type) and issubclass(cls, Attack)):
        raise BenchError(f"{implementation} is not a bench Attack subclass")
    return cls


def checked_class(card: AttackCard) -> type[Attack]:
    """The card's class, checked to take exactly the card's parameters, none with a default: a
    default in the class would be a second declaration, free to drift from the card's."""
    cls = implementation_class(card.implementation, card.path)
    taken = [
        p
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    defaulted = [p.name for p in taken if p.default is not p.empty]
    if defaulted:
        raise BenchError(
            f"{card.implementation} gives {', '.join(defaulted)} a default; an attack's "
            f"parameters take their values from its card ({card.path}) only"
        )
    names = [p.name for p in taken]
    if sorted(names) != sorted(card.declared):
        raise BenchError(
            f"attack card {card.path} declares {', '.join(card.declared) or 'no parameter'} but "
            f"{card.implementation} takes {', '.join(names) or 'none'}: they must be the same"
        )
    return cls


def load_attack(card: AttackCard, params: dict[str, Any]) -> Attack:
    """Instantiate ``module:Class`` from a card with ``params``, the card's full parameter set."""
    cls = checked_class(card)
    missing = sorted(set(card.declared) - set(params))
    if missing:
        raise BenchError(f"attack {card.name}: no value for {', '.join(missing)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise BenchError(f"attack {card.name}: bad parameter ({exc})") from None


def grants_captions(card: AttackCard, attack: Attack) -> bool:
    """Whether the attack's view may carry the training captions: the one place the threat model
    is enforced, before any work starts.

    The card's ``threat_model`` decides, and it must be one the suite knows and the one the
    implementation was written for; captions are granted only under ``white-box+captions``, and
    nothing grants the training images.
    """
    if card.threat_model not in THREAT_MODELS:
        raise BenchError(
            f"attack card {card.path}: unknown threat model {card.threat_model!r}; "
            f"valid: {', '.join(THREAT_MODELS)}"
        )
    if type(attack).threat_model != card.threat_model:
        raise BenchError(
            f"attack card {card.path} grants {card.threat_model!r} but {card.implementation} "
            f"is written for {type(attack).threat_model!r}"
        )
    return card.threat_model == "white-box+captions"
