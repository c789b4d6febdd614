"""The classifiers SIDE guides with: a small ResNet, with or without a time module.

SIDE (Chen et al., §4.2) trains p_φ(c | x_t, t) on noised images with the time embedding added
after each block's first normalisation; its baseline ("Carlini Cond") trains the same network on
clean images without time. Everything else is shared, so the comparison isolates time dependence.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from torch import nn
from tqdm import tqdm

from bench.utils.device import compute_device


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
) -> tuple[NoisyClassifier, dict]:
    """Cross-entropy over random t on x_t (time-dependent) or on clean x_0 (time-independent).

    Batches and noise come from a CPU generator and move to the compute device, so the draws are
    the same on every device.
    """
    device = compute_device()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = NoisyClassifier(n_classes, width, time_dependent, stem).to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    y_all = torch.as_tensor(labels)
    T = scheduler.config.num_train_timesteps
    correct = seen = 0
    for step in tqdm(range(steps), desc="classifier", unit="step", leave=False):
        idx = torch.randint(0, len(images), (batch,), generator=g)
        x0, y = images[idx].to(device), y_all[idx].to(device)
        if time_dependent:
            t = torch.randint(0, T, (batch,), generator=g)
            noise = torch.randn(x0.shape, generator=g).to(device)
            t = t.to(device)
            x = scheduler.add_noise(x0, noise, t)
        else:
            t = torch.zeros(batch, dtype=torch.long, device=device)
            x = x0
        logits = clf(x, t)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= steps - max(1, steps // 10):  # accuracy over the last tenth of training
            correct += int((logits.argmax(1) == y).sum())
            seen += batch
    clf.eval().requires_grad_(False)
    return clf, {
        "train_accuracy_last_tenth": round(correct / max(seen, 1), 4),
        "final_loss": round(float(loss.detach()), 4),
    }


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
