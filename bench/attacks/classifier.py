"""The classifiers SIDE guides with: a small ResNet, with or without a time module.

SIDE (Chen et al., §4.2) trains p_φ(c | x_t, t) on noised images with the time embedding added
after each block's first normalisation; its baseline ("Carlini Cond") trains the same network on
clean images without time. Everything else is shared, so the comparison isolates time dependence.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from pydantic import Field
from torch import nn
from tqdm import tqdm

from bench.attacks.resumable import StateFile
from bench.utils.device import compute_device
from bench.utils.schema import Strict


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(-math.log(10_000) * steps / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


# Groups of every GroupNorm in the classifier: its width must be a multiple of this.
GROUPS = 8

# The stems a classifier may see its input through, by how much they downsample it. 1 is the
# suite's full-resolution 3×3 convolution (every record before issue #32); 4 is ResNet34's stem,
# a stride-2 7×7 convolution then a stride-2 3×3 max-pool (SIDE's classifier is a ResNet34), so a
# 64 px image reaches the blocks at 16×16, the cost the 16 px profile pays; 2 is that convolution
# alone. The blocks then halve the resolution twice more.
STEMS = (1, 2, 4)
BLOCK_DOWNSAMPLING = 4


def stem_layer(width: int, stem: int) -> nn.Module:
    """The input stem that downsamples by ``stem`` (one of ``STEMS``)."""
    if stem == 1:
        return nn.Conv2d(3, width, 3, padding=1)
    conv = nn.Conv2d(3, width, 7, stride=2, padding=3)
    return conv if stem == 2 else nn.Sequential(conv, nn.MaxPool2d(3, stride=2, padding=1))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int | None) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, cin)
        self.time = nn.Linear(tdim, cin) if tdim else None
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(GROUPS, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None) -> torch.Tensor:
        h = self.norm1(x)
        if self.time is not None:
            h = h + self.time(temb)[:, :, None, None]
        h = self.conv1(F.silu(h))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class NoisyClassifier(nn.Module):
    def __init__(
        self, n_classes: int, width: int = 32, time_dependent: bool = True, stem: int = 1
    ) -> None:
        super().__init__()
        self.time_dependent = time_dependent
        tdim = 4 * width if time_dependent else None
        self.temb = (
            nn.Sequential(nn.Linear(width, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
            if time_dependent
            else None
        )
        self.width = width
        self.stem = stem_layer(width, stem)
        chans = [width, 2 * width, 4 * width]
        self.blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, c in enumerate(chans):
            cin = chans[i - 1] if i else width
            self.blocks.append(ResBlock(cin, c, tdim))
            self.downs.append(
                nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(chans) - 1 else nn.Identity()
            )
        self.out_norm = nn.GroupNorm(GROUPS, chans[-1])
        self.head = nn.Linear(chans[-1], n_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.temb(timestep_embedding(t, self.width)) if self.temb is not None else None
        h = self.stem(x)
        for block, down in zip(self.blocks, self.downs):
            h = down(block(h, temb))
        return self.head(F.silu(self.out_norm(h)).mean(dim=(2, 3)))


# Suite's choice: the training state is saved every this many steps, so an interrupt loses at most
# this many (about 7% of the cpu profile's 1,500). A save of the width-64 classifier (1.6 M
# weights, with AdamW's moments 19 MB) took 0.2 s beside 140 s for 100 steps of 64 images at 16 px
# (measured 2026-12-07 on a 2-core CPU shared with other work).
CHECKPOINT_EVERY = 100


class ClassifierState(Strict):
    """The metadata of a classifier training's saved state (``bench.attacks.resumable``).

    ``inputs`` digests everything the training depends on (images, labels, schedule, settings,
    seed), so a state left by another training is not resumed; ``digest`` covers the saved
    tensors and the fields here, so a file damaged in a way safetensors cannot see (a changed
    byte, an edited step) is not trusted either.
    """

    inputs: str
    step: Annotated[int, Field(ge=1)]
    correct: Annotated[int, Field(ge=0)]
    seen: Annotated[int, Field(ge=0)]
    digest: str

    @staticmethod
    def of(
        tensors: dict[str, torch.Tensor], inputs: str, step: int, correct: int, seen: int
    ) -> str:
        """The ``digest`` of a state: its tensors, by name, and its other fields."""
        names = sorted(tensors)
        return _digest([tensors[k] for k in names], [names, inputs, step, correct, seen])


def train_classifier(
    images: torch.Tensor,
    labels: np.ndarray,
    n_classes: int,
    scheduler: DDPMScheduler,
    *,
    time_dependent: bool,
    steps: int,
    batch: int,
    lr: float,
    width: int,
    stem: int,
    seed: int,
    state: StateFile | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    after_step: Callable[[int], None] | None = None,
) -> tuple[NoisyClassifier, dict]:
    """Cross-entropy over random t on x_t (time-dependent) or on clean x_0 (time-independent).

    Batches and noise come from a CPU generator and move to the compute device, so the draws are
    the same on every device. With ``state``, the weights, AdamW moments and that generator are
    saved every ``checkpoint_every`` steps and a saved state is resumed from, so an interrupted
    training ends with exactly the weights of an uninterrupted one. ``after_step(k)`` is called
    once step ``k`` (counted from 1) is done and saved: where a caller (a test) interrupts it.
    """
    device = compute_device()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = NoisyClassifier(n_classes, width, time_dependent, stem).to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    y_all = torch.as_tensor(labels)
    inputs = _digest(
        [images, y_all, scheduler.alphas_cumprod],
        [n_classes, time_dependent, steps, batch, lr, width, stem, seed],
    )
    done, correct, seen = _resume(state, inputs, steps, clf, opt, g) if state else (0, 0, 0)
    todo = range(done, steps)  # the progress bar shows the whole training, resumed or not
    for step in tqdm(todo, desc="classifier training", total=steps, initial=done, leave=False):
        x, t, y = _draw(images, y_all, batch, scheduler, time_dependent, g, device)
        logits, loss = train_step(clf, opt, x, t, y)
        if step >= steps - max(1, steps // 10):  # accuracy over the last tenth of training
            correct += int((logits.argmax(1) == y).sum())
            seen += batch
        if state is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            tensors = _state_tensors(clf, opt, g)
            digest = ClassifierState.of(tensors, inputs, step + 1, correct, seen)
            meta = ClassifierState(
                inputs=inputs, step=step + 1, correct=correct, seen=seen, digest=digest
            )
            state.save(tensors, meta)
        if after_step is not None:
            after_step(step + 1)
    clf.eval().requires_grad_(False)
    return clf, {
        "train_accuracy_last_tenth": round(correct / max(seen, 1), 4),
        "final_loss": round(float(loss.detach()), 4),
    }


def _draw(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch: int,
    scheduler: DDPMScheduler,
    time_dependent: bool,
    g: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training batch (x_t at random t, or clean x_0 at t = 0), its t and its labels, drawn
    from ``g`` on the CPU."""
    idx = torch.randint(0, len(images), (batch,), generator=g)
    x0, y = images[idx].to(device), labels[idx].to(device)
    if not time_dependent:
        return x0, torch.zeros(batch, dtype=torch.long, device=device), y
    t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=g)
    noise = torch.randn(x0.shape, generator=g).to(device)
    t = t.to(device)
    return scheduler.add_noise(x0, noise, t), t, y


def train_step(
    clf: NoisyClassifier,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    t: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One cross-entropy step on the batch; its logits and loss. Also what the estimate times
    as the price of a classifier training image (``GuidanceShape.seconds_per_image``)."""
    logits = clf(x, t)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return logits, loss


def _digest(tensors: list[torch.Tensor], values: list[object]) -> str:
    """sha256 of the tensors' bytes and the values' JSON."""
    h = hashlib.sha256(json.dumps(values).encode())
    for tensor in tensors:
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _state_tensors(
    clf: NoisyClassifier, opt: torch.optim.Optimizer, g: torch.Generator
) -> dict[str, torch.Tensor]:
    """Weights, AdamW's per-parameter state and the batch generator's state, as flat tensors."""
    tensors = {f"model.{k}": v for k, v in clf.state_dict().items()}
    for pid, kept in opt.state_dict()["state"].items():
        tensors.update({f"opt.{pid}.{name}": torch.as_tensor(v) for name, v in kept.items()})
    tensors["rng"] = g.get_state()
    return tensors


def _resume(
    state: StateFile,
    inputs: str,
    steps: int,
    clf: NoisyClassifier,
    opt: torch.optim.Optimizer,
    g: torch.Generator,
) -> tuple[int, int, int]:
    """Load a saved state into ``clf``, ``opt`` and ``g``; returns (steps done, correct, seen),
    all 0 when there is none or it was damaged (then removed, with a notice)."""

    def check(tensors: dict[str, torch.Tensor], meta: ClassifierState) -> None:
        if meta.inputs != inputs:
            raise ValueError("it was saved by a training on other inputs or settings")
        if meta.step >= steps:
            raise ValueError(f"it claims step {meta.step} of a {steps}-step training")
        if ClassifierState.of(tensors, inputs, meta.step, meta.correct, meta.seen) != meta.digest:
            raise ValueError("its contents do not match the digest it was saved with")
        if "rng" not in tensors:
            raise ValueError("it holds no generator state")
        model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        moments: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, pid, name = key.split(".", 2)
                moments.setdefault(int(pid), {})[name] = value
        try:
            clf.load_state_dict(model)
            saved = opt.state_dict()
            saved["state"] = moments
            opt.load_state_dict(saved)
            g.set_state(tensors["rng"])
        except (RuntimeError, KeyError) as exc:
            raise ValueError(str(exc).splitlines()[0]) from None

    fresh = (copy.deepcopy(clf.state_dict()), copy.deepcopy(opt.state_dict()), g.get_state())
    loaded = state.load(ClassifierState, check)
    if loaded is None:  # a state refused halfway through loading leaves nothing of itself
        clf.load_state_dict(fresh[0])
        opt.load_state_dict(fresh[1])
        g.set_state(fresh[2])
        return 0, 0, 0
    meta = loaded[1]
    return meta.step, meta.correct, meta.seen


class ClassifierGuidance:
    """∇_{x_t} log p_φ(c | x_t, t) for the sampler, one classifier evaluation per sample."""

    def __init__(self, classifier: NoisyClassifier, scale: float) -> None:
        self.classifier = classifier
        self.scale = scale

    def log_prob_grad(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        x = x_t.detach().requires_grad_(True)
        t, labels = t.to(x.device), labels.to(x.device)
        with torch.enable_grad():
            logp = F.log_softmax(self.classifier(x, t), dim=1)
            chosen = logp[torch.arange(len(x), device=x.device), labels].sum()
            (grad,) = torch.autograd.grad(chosen, x)
        return grad
