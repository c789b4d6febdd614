"""The attack contract, as a check any attack card can run: `bench check-attack NAME`.

An attack is two files and no edit to the suite, so the suite holds every attack, the
repository's or a user's under ``BENCH_CARDS``, to the same rules, without naming any. The check
runs the card's ``test`` profile (the fast settings the card itself declares) on a tiny model with
seeded random weights, built here from a fixed architecture: no data, no checkpoint, and seconds
on one CPU core. Random weights are enough, since every clause is about the attack's code, none
about how much it extracts (CI's floors judge that on the zoo):

- the class takes exactly the card's parameters, none with a default, and every profile loads;
- the threat model the card grants is the one the class was written for;
- a run writes exactly ``budget`` uint8 outputs at the model's resolution, and says so;
- it reports the four cost counts, spends UNet evaluations, and its preparation is within them;
- the same seed gives the same outputs, cost and info;
- where the class claims ``prefix_valid``, the first outputs of a run are a smaller run;
- ``draws``, where the class declares it, describes a run at that budget;
- each code mutation applies to an instance of the class.

The check runs on the CPU, whatever ``BENCH_DEVICE`` says, so that "the same seed gives the same
outputs" is bit-exact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.attacks.base import (
    Attack,
    AttackResult,
    ModelView,
    checked_class,
    grants_captions,
    load_attack,
)
from bench.attacks.mutations import mutations_for
from bench.attacks.store import RunStore
from bench.cards import AttackCard, ModelCard, attack_card, validate
from bench.errors import BenchError
from bench.records import types
from bench.zoo.build import build_sampler, build_scheduler, build_text_encoder, build_unet
from bench.zoo.denoiser import Denoiser
from bench.zoo.text_encoder import build_vocab

PROFILE = "test"  # the card's fast settings
BUDGET = 16  # two shards of 8 would need more; one sampling batch holds all 16
SMALLER = 8
SEED = 0
RESOLUTION = 8
# Training captions a caption-granted attack sees: repeats included, as real captions have them.
CAPTIONS = (
    "a smiling woman with blond hair",
    "a smiling woman with blond hair",
    "a man with glasses",
    "a man with glasses",
    "a man with glasses",
    "a young woman",
    "an old man with a beard",
    "a woman wearing a hat",
)


@dataclass(frozen=True)
class Clause:
    """One rule of the contract and what broke it (None: kept)."""

    rule: str
    failure: str | None = None


def contract_model(conditioning: str) -> ModelCard:
    """The tiny model the check attacks: 8 px, three UNet levels, 4 sampling steps."""
    down = "CrossAttnDownBlock2D" if conditioning == "caption" else "AttnDownBlock2D"
    up = "CrossAttnUpBlock2D" if conditioning == "caption" else "AttnUpBlock2D"
    return ModelCard(
        name=f"contract-{conditioning}",
        version=1,
        path=Path("<bench check-attack>"),
        dataset="none",
        scale="8",
        profile=PROFILE,
        resolution=RESOLUTION,
        conditioning=conditioning,
        canaries=False,
        architecture={
            "block_out_channels": [8, 16, 16],
            "layers_per_block": 1,
            "down_block_types": ["DownBlock2D", "DownBlock2D", down],
            "up_block_types": [up, "UpBlock2D", "UpBlock2D"],
            "norm_num_groups": 4,
            "attention_head_dim": 4,
            "text_dim": 16,
            "text_len": 32,
        },
        scheduler={
            "num_train_timesteps": 100,
            "beta_schedule": "linear",
            "prediction_type": "epsilon",
            "clip_sample": True,
            "sampling_steps": 4,
        },
        training={},
        evaluation={},
    )


def _denoiser(card: ModelCard) -> Denoiser:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = build_unet(card).eval().requires_grad_(False)
        text = None
        if card.conditioning == "caption":
            text = build_text_encoder(card, build_vocab(list(CAPTIONS))).eval()
    return Denoiser(unet=unet, scheduler=build_scheduler(card), text_encoder=text)


class _Runner:
    """Runs the attack on the contract model, each run in a store of its own."""

    def __init__(self, acard: AttackCard, folder: Path) -> None:
        self.acard = acard
        self.model = contract_model(acard.applies_to[0])
        self.denoiser = _denoiser(self.model)
        self.folder = folder
        self.runs = 0

    def run(self, attack: Attack, budget: int) -> tuple[AttackResult, np.ndarray]:
        self.runs += 1
        root = self.folder / f"run{self.runs}"
        store = RunStore(root, prep_root=root / "prep", resolution=RESOLUTION)
        view = ModelView(
            denoiser=self.denoiser,
            make_sampler=lambda: build_sampler(self.model),
            resolution=RESOLUTION,
            sampling_steps=int(self.model.scheduler["sampling_steps"]),
            conditioning=self.model.conditioning,
            store=store,
            captions=CAPTIONS if grants_captions(self.acard, attack) else None,
        )
        result = attack.run(view, budget, SEED)
        return result, store.images()


def check_attack(name: str) -> list[Clause]:
    """The contract's clauses for the attack card ``name``, in order; the runs stop at the first
    clause that leaves nothing to check further."""
    acard = attack_card(name)
    if PROFILE not in acard.defaults:
        raise BenchError(
            f"attack card {acard.path} declares no {PROFILE!r} profile: give every parameter a "
            f"`{PROFILE} = …` value, the fast settings `bench check-attack` runs"
        )
    return list(_clauses(acard))


def _clauses(acard: AttackCard) -> Iterator[Clause]:
    declared = _kept(
        "the class takes exactly the card's parameters, none with a default, in every profile",
        lambda: _profiles(acard),
    )
    yield declared
    if declared.failure:
        return
    attack = _new(acard)
    yield _kept("its threat model is the card's", lambda: grants_captions(acard, attack))
    yield _kept("each code mutation applies to an instance", lambda: _mutations(acard))
    with tempfile.TemporaryDirectory(prefix="check-attack-") as tmp, _on_cpu():
        runner = _Runner(acard, Path(tmp))
        first: list[Any] = []
        ran = _kept(f"it runs at budget {BUDGET}", lambda: first.extend(runner.run(attack, BUDGET)))
        yield ran
        if ran.failure:
            return
        result, outputs = first
        yield _kept(f"it writes exactly {BUDGET} uint8 outputs", lambda: _outputs(result, outputs))
        yield _kept("it reports its cost", lambda: _cost(result))
        yield _kept("the same seed gives the same run", lambda: _same(runner, acard, first))
        if type(attack).prefix_valid:
            yield _kept(
                "its first outputs are a smaller run (prefix_valid)",
                lambda: _prefix(runner, acard, outputs),
            )
        yield _kept("draws() describes the run", lambda: _draws(attack))


@contextmanager
def _on_cpu() -> Iterator[None]:
    """Every tensor of the check on the CPU (``BENCH_DEVICE``, which attacks' classifiers follow
    too), so that two runs at one seed can be compared bit for bit."""
    saved = os.environ.get("BENCH_DEVICE")
    os.environ["BENCH_DEVICE"] = "cpu"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["BENCH_DEVICE"]
        else:
            os.environ["BENCH_DEVICE"] = saved


def _kept(rule: str, check: Callable[[], Any]) -> Clause:
    """``rule`` kept unless ``check`` raises; what it raised, in one line, is the failure."""
    try:
        check()
    except Exception as exc:
        return Clause(rule, " ".join(f"{type(exc).__name__}: {exc}".split()))
    return Clause(rule)


def _profiles(acard: AttackCard) -> None:
    checked_class(acard)
    for profile in acard.defaults:
        load_attack(acard, validate.attack_params(acard, profile))


def _new(acard: AttackCard) -> Attack:
    return load_attack(acard, validate.attack_params(acard, PROFILE))


def _mutations(acard: AttackCard) -> None:
    for mutation in mutations_for(checked_class(acard), acard).values():
        validate.attack_params(acard, PROFILE, dict(mutation.params))
        mutation.apply(_new(acard))


def _require(ok: bool, failure: str) -> None:
    if not ok:
        raise AssertionError(failure)


def _outputs(result: AttackResult, outputs: np.ndarray) -> None:
    _require(len(outputs) == BUDGET, f"the store holds {len(outputs)} outputs")
    _require(result.n_outputs == BUDGET, f"the result says n_outputs = {result.n_outputs}")
    _require(outputs.dtype == np.uint8, f"outputs are {outputs.dtype}")
    shape = (RESOLUTION, RESOLUTION, 3)
    _require(outputs.shape[1:] == shape, f"outputs are {outputs.shape[1:]}, not {shape}")


def _cost(result: AttackResult) -> None:
    cost = result.cost
    _require(set(cost) == types.declared_keys(types.Cost), f"cost keys {sorted(cost)}")
    _require(cost["unet_evaluations"] > 0, "no UNet evaluation was counted")
    for kind in ("unet", "classifier"):
        prep, total = cost[f"prep_{kind}_evaluations"], cost[f"{kind}_evaluations"]
        _require(0 <= prep <= total, f"{kind} preparation {prep} is not within its total {total}")


def _fingerprint(result: AttackResult) -> str:
    return json.dumps([result.cost, result.info], sort_keys=True, default=repr)


def _same(runner: _Runner, acard: AttackCard, first: list[Any]) -> None:
    result, outputs = runner.run(_new(acard), BUDGET)
    _require(np.array_equal(outputs, first[1]), "a second run at the same seed differs")
    _require(_fingerprint(result) == _fingerprint(first[0]), "its cost or info differs")


def _prefix(runner: _Runner, acard: AttackCard, outputs: np.ndarray) -> None:
    _, smaller = runner.run(_new(acard), SMALLER)
    _require(
        np.array_equal(smaller, outputs[:SMALLER]),
        f"a run at budget {SMALLER} is not the first {SMALLER} outputs of a run at {BUDGET}",
    )


def _draws(attack: Attack) -> None:
    draws = attack.draws(BUDGET, SEED)
    if draws is not None:
        _require(draws.outputs == BUDGET, f"draws() says {draws.outputs} outputs")
