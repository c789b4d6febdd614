"""Train one zoo model: EMA, bf16 autocast, atomic resumable checkpoints.

Every random draw is a function of (seed, step), so a run killed at any point and resumed from its
last checkpoint continues exactly where an uninterrupted run would have been.

Under ``accelerate launch`` with N processes (``bench.utils.parallel``) each step's batch is the
same global batch, drawn in full by every process from the same generators; process r computes the
loss of its contiguous slice of rows, the gradients are summed over processes, and every process
takes the same optimiser step. The training is the single-process one; only the order of the
floating-point sums differs. The main process alone saves states and the released checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from tqdm import tqdm

from bench.cards import ModelCard
from bench.data.subset import Subset
from bench.errors import BenchError
from bench.utils.device import compute_device
from bench.utils.imageio import to_tensor
from bench.utils.parallel import current_ranks
from bench.utils.paths import bench_home
from bench.utils.schema import MAX_SECONDS, Strict, parse
from bench.zoo.build import build_scheduler, build_text_encoder, build_unet
from bench.zoo.checkpoint import load_tensors, prefixed, save_tensors, unprefixed
from bench.zoo.text_encoder import build_vocab


@dataclass
class TrainResult:
    steps: int
    images_seen: int
    train_seconds: float
    state_path: Path


class TrainingState(Strict):
    """The metadata of a resumable training state (``Trainer.meta``). Its step and seconds go
    into the card once training ends, so a tampered value (10^12 steps, a negative time) is
    refused here rather than written there."""

    card: str
    card_version: int
    step: Annotated[int, Field(ge=0)]
    images_seen: Annotated[int, Field(ge=0)]
    train_seconds: Annotated[float, Field(ge=0, le=MAX_SECONDS)]
    vocab: list[str] | None


def state_path(card: ModelCard) -> Path:
    return bench_home() / "train" / card.name / "state.safetensors"


class Trainer:
    """Holds the model, its EMA copy and the optimiser for one card."""

    def __init__(self, card: ModelCard, data: Subset) -> None:
        self.card = card
        self.cfg = card.training
        self.data = data
        self.stream = np.repeat(np.arange(len(data.files)), data.counts)
        torch.manual_seed(int(self.cfg["seed"]))  # weight init only; all later draws are explicit
        self.vocab = build_vocab(data.captions) if card.conditioning == "caption" else None
        self.device = compute_device()
        self.ranks = current_ranks()
        if (
            self.cfg.get("bf16")
            and self.device.type == "cuda"
            and not torch.cuda.is_bf16_supported()
        ):
            raise BenchError(
                f"card {card.name} trains with bf16, which this GPU does not support; "
                "set bf16 = false in a copy of the card"
            )
        self.modules = {"unet": build_unet(card).to(self.device)}
        if self.vocab is not None:
            self.modules["text"] = build_text_encoder(card, self.vocab).to(self.device)
        self.ema = {k: _clone(m) for k, m in self.modules.items()}
        self.params = [p for m in self.modules.values() for p in m.parameters()]
        self.opt = torch.optim.AdamW(
            self.params,
            lr=float(self.cfg["lr"]),
            weight_decay=float(self.cfg.get("weight_decay", 0.0)),
        )
        self.scheduler = build_scheduler(card)
        self.images = to_tensor(data.images).to(self.device)
        self.step = 0
        self.seconds = 0.0

    @property
    def batch(self) -> int:
        return int(self.cfg["batch"])

    @property
    def total_steps(self) -> int:
        return int(self.cfg["images_seen"]) // self.batch

    def _indices(self, step: int) -> np.ndarray:
        """Batch ``step`` of a seeded per-epoch shuffle of the (duplicated) training stream."""
        per_epoch = len(self.stream) // self.batch or 1
        epoch, pos = divmod(step, per_epoch)
        rng = np.random.default_rng([int(self.cfg["seed"]), epoch])
        order = self.stream[rng.permutation(len(self.stream))]
        if len(order) < self.batch:
            order = np.resize(order, self.batch)
        return order[pos * self.batch : (pos + 1) * self.batch]

    def _rows(self, n: int) -> slice:
        """This process's contiguous slice of a global batch of ``n`` rows (all of them alone)."""
        bounds = np.linspace(0, n, self.ranks.world + 1).round().astype(int)
        return slice(int(bounds[self.ranks.rank]), int(bounds[self.ranks.rank + 1]))

    def train_step(self) -> float:
        g = torch.Generator().manual_seed(int(self.cfg["seed"]) * 7_919 + self.step)
        idx = self._indices(self.step)
        x0 = self.images[torch.from_numpy(idx).to(self.device)]
        noise = torch.randn(x0.shape, generator=g).to(self.device)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(idx),), generator=g)
        t = t.to(self.device)
        x_t = self.scheduler.add_noise(x0, noise, t)
        target = {
            "sample": x0,
            "epsilon": noise,
            "v_prediction": self.scheduler.get_velocity(x0, noise, t),
        }[self.scheduler.config.prediction_type]
        warmup = int(self.cfg.get("warmup_steps", 0))
        for group in self.opt.param_groups:
            group["lr"] = float(self.cfg["lr"]) * min(1.0, (self.step + 1) / max(1, warmup))
        rows = self._rows(len(idx))
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=bool(self.cfg.get("bf16", False))
        ):
            if "text" in self.modules:
                caps = [self.data.captions[i] for i in idx[rows]]
                states, mask = self.modules["text"](caps)
                pred = self.modules["unet"](
                    x_t[rows],
                    t[rows],
                    encoder_hidden_states=states,
                    encoder_attention_mask=mask.float(),
                ).sample
            else:
                pred = self.modules["unet"](x_t[rows], t[rows]).sample
        if self.ranks.world == 1:
            loss = F.mse_loss(pred.float(), target)
        else:  # this slice's share of the global batch's mean; the shares sum to it
            loss = F.mse_loss(pred.float(), target[rows], reduction="sum") / target.numel()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.ranks.all_sum([p.grad for p in self.params if p.grad is not None])
        torch.nn.utils.clip_grad_norm_(self.params, float(self.cfg.get("grad_clip", 1.0)))
        self.opt.step()
        decay = float(self.cfg["ema_decay"])
        with torch.no_grad():
            for k, m in self.modules.items():
                for pe, p in zip(self.ema[k].parameters(), m.parameters()):
                    pe.lerp_(p, 1.0 - decay)
        self.step += 1
        loss = loss.detach()
        self.ranks.all_sum([loss])
        return float(loss)

    # --- checkpoints -------------------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "card": self.card.name,
            "card_version": self.card.version,
            "step": self.step,
            "images_seen": self.step * self.batch,
            "train_seconds": self.seconds,
            "vocab": self.vocab,
        }

    def save_state(self, path: Path) -> None:
        tensors: dict[str, torch.Tensor] = {}
        for k, m in self.modules.items():
            tensors.update(prefixed(f"model.{k}", m))
            tensors.update(prefixed(f"ema.{k}", self.ema[k]))
        opt = self.opt.state_dict()
        for pid, st in opt["state"].items():
            for name, value in st.items():
                tensors[f"opt.{pid}.{name}"] = torch.as_tensor(value)
        save_tensors(path, tensors, self.meta())

    def load_state(self, path: Path) -> None:
        stale = (
            f"the training state {path} was written for another version of card "
            f"{self.card.name}; delete it to train from scratch"
        )
        try:
            tensors, meta = load_tensors(path, self.card)
        except BenchError as exc:
            raise BenchError(f"{exc}; delete {path} to train from scratch") from None
        saved = parse(TrainingState, meta, f"the training state {path} (delete it to retrain)")
        if saved.step > self.total_steps or saved.images_seen != saved.step * self.batch:
            raise BenchError(
                f"the training state {path} claims step {saved.step:,} and {saved.images_seen:,} "
                f"images seen, but card {self.card.name} trains {self.total_steps:,} steps of "
                f"{self.batch}; delete it to train from scratch"
            )
        if saved.vocab != self.vocab:
            raise BenchError(stale)
        try:
            for k, m in self.modules.items():
                m.load_state_dict(unprefixed(f"model.{k}", tensors))
                self.ema[k].load_state_dict(unprefixed(f"ema.{k}", tensors))
        except RuntimeError:
            raise BenchError(stale) from None
        opt = self.opt.state_dict()
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        opt["state"] = state
        self.opt.load_state_dict(opt)
        self.step = saved.step
        self.seconds = saved.train_seconds

    def release(self) -> tuple[dict[str, torch.Tensor], dict]:
        """EMA weights in fp16: the artefact the zoo commits and attacks load."""
        tensors: dict[str, torch.Tensor] = {}
        for k, m in self.ema.items():
            tensors.update(
                {key: v.half() if v.is_floating_point() else v for key, v in prefixed(k, m).items()}
            )
        # Wall-clock seconds stay in the card and the training state: in the release they would
        # give bit-identical weights (a deterministic retrain) a different digest.
        meta = {k: v for k, v in self.meta().items() if k != "train_seconds"}
        meta["config"] = json.loads(
            json.dumps({"architecture": self.card.architecture, "scheduler": self.card.scheduler})
        )
        return tensors, meta


def _clone(module: torch.nn.Module) -> torch.nn.Module:
    import copy

    ema = copy.deepcopy(module)
    ema.requires_grad_(False)
    return ema


def train(
    card: ModelCard,
    data: Subset,
    *,
    max_steps: int | None = None,
    checkpoint_every: int = 500,
    progress: bool = True,
) -> tuple[Trainer, TrainResult]:
    """Train to the card's budget (or ``max_steps``), resuming from the saved state if present."""
    trainer = Trainer(card, data)
    path = state_path(card)
    if path.is_file():
        trainer.load_state(path)
    stop = min(trainer.total_steps, max_steps if max_steps is not None else trainer.total_steps)
    bar = tqdm(
        total=trainer.total_steps,
        initial=trainer.step,
        desc=f"training {card.name}",
        unit="step",
        disable=not progress or not trainer.ranks.is_main,
    )
    for m in trainer.modules.values():
        m.train()
    while trainer.step < stop:
        t0 = time.perf_counter()
        loss = trainer.train_step()
        trainer.seconds += time.perf_counter() - t0
        bar.update(1)
        if trainer.step % 50 == 0:
            bar.set_postfix(loss=f"{loss:.4f}")
        if trainer.ranks.is_main and (trainer.step % checkpoint_every == 0 or trainer.step == stop):
            trainer.save_state(path)
    bar.close()
    return trainer, TrainResult(trainer.step, trainer.step * trainer.batch, trainer.seconds, path)
