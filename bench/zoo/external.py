"""Diffusers folders made elsewhere with ``save_pretrained``: read them, check them, load them.

A user's model is attacked as it was saved. Its UNet and scheduler are rebuilt with
``from_config`` on the folder's own configs (a key the diffusers class does not take is refused,
as for the zoo's cards), and its weights are loaded strictly from safetensors, never unpickled. It
can only be scored against a member set whose images it could have produced, so its resolution
and channel count are checked against the dataset card before anything runs.

Layouts read: a pipeline folder (``model_index.json``, as ``DDPMPipeline.save_pretrained`` writes),
or ``unet/`` and ``scheduler/`` subfolders, or a UNet folder holding its scheduler config beside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import DDPMScheduler, SchedulerMixin, UNet2DConditionModel, UNet2DModel
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from bench.cards import DatasetCard
from bench.errors import BenchError
from bench.utils.schema import parse
from bench.zoo.build import SAMPLERS, config_keys
from bench.zoo.folderconfig import SchedulerConfig, UNetConfig

UNET_CLASSES: dict[str, type[nn.Module]] = {
    "UNet2DModel": UNet2DModel,
    "UNet2DConditionModel": UNet2DConditionModel,
}
UNET_CONFIG = "config.json"
SCHEDULER_CONFIG = "scheduler_config.json"
WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass(frozen=True)
class DiffusersFolder:
    """One ``save_pretrained`` folder: where its parts are and their configs as saved."""

    path: Path
    unet_dir: Path
    unet_config: dict[str, Any]
    scheduler_config: dict[str, Any]

    @property
    def weights(self) -> Path:
        return self.unet_dir / WEIGHTS

    @property
    def unet_class(self) -> type[nn.Module]:
        return UNET_CLASSES[self.unet_config["_class_name"]]

    @property
    def conditioning(self) -> str:
        return "caption" if self.unet_class is UNet2DConditionModel else "unconditional"

    @property
    def resolution(self) -> int:
        size = self.unet_config.get("sample_size")
        sizes = set(size) if isinstance(size, list) else {size}
        if len(sizes) != 1 or not isinstance(size := sizes.pop(), int):
            raise BenchError(
                f"{self.unet_dir / UNET_CONFIG}: sample_size {self.unet_config.get('sample_size')}"
                " is not one square resolution"
            )
        return size

    def scheduler_class(self, sampler: str | None = None) -> type[SchedulerMixin]:
        """The sampler: ``sampler`` (ddim, ddpm or a diffusers class) or the folder's own class."""
        name = sampler or self.scheduler_config.get("_class_name", "")
        cls = SAMPLERS.get(name.lower()) or getattr(diffusers, name, None)
        # SchedulerMixin itself (and any class without set_timesteps) is a base, not a sampler.
        if not (
            isinstance(cls, type)
            and issubclass(cls, SchedulerMixin)
            and callable(getattr(cls, "set_timesteps", None))
        ):
            where = "--sampler" if sampler else str(self.path)
            raise BenchError(f"{where}: {name!r} is not a diffusers scheduler class")
        return cls


def _json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path} is not a readable JSON config ({exc})") from None
    if not isinstance(raw, dict):
        raise BenchError(f"{path} is not a JSON object")
    return raw


def read_folder(path: str | Path) -> DiffusersFolder:
    """The UNet and scheduler of a ``save_pretrained`` folder; one line if it is none."""
    root = Path(path).expanduser().resolve()
    unet_dir = next((d for d in (root / "unet", root) if (d / UNET_CONFIG).is_file()), None)
    sched_dir = next(
        (d for d in (root / "scheduler", root) if (d / SCHEDULER_CONFIG).is_file()), None
    )
    if unet_dir is None or sched_dir is None:
        raise BenchError(
            f"{root} is not a diffusers folder: it needs unet/{UNET_CONFIG} and "
            f"scheduler/{SCHEDULER_CONFIG} (as save_pretrained writes them)"
        )
    unet_config = _json(unet_dir / UNET_CONFIG)
    if str(unet_config.get("_class_name")) not in UNET_CLASSES:
        raise BenchError(
            f"{unet_dir / UNET_CONFIG} describes a {str(unet_config.get('_class_name'))[:40]!r}; "
            f"the suite attacks {' or '.join(UNET_CLASSES)}"
        )
    parse(UNetConfig, unet_config, unet_dir / UNET_CONFIG)
    if not (unet_dir / WEIGHTS).is_file():
        raise BenchError(
            f"{unet_dir} has no {WEIGHTS}; save it with save_pretrained(safe_serialization=True) "
            "(pickled weights are never loaded)"
        )
    scheduler_config = _json(sched_dir / SCHEDULER_CONFIG)
    parse(SchedulerConfig, scheduler_config, sched_dir / SCHEDULER_CONFIG)
    folder = DiffusersFolder(root, unet_dir, unet_config, scheduler_config)
    folder.scheduler_class()
    return folder


def check_fits(folder: DiffusersFolder, dataset: DatasetCard, scale: str) -> None:
    """Refuse weights that cannot have been trained on the member set (a scale, or images listed
    by the user): RGB in and out, at a resolution the dataset card scores (has calibrated ℓ2
    bands for)."""
    channels = (folder.unet_config.get("in_channels"), folder.unet_config.get("out_channels"))
    if channels != (3, 3):
        raise BenchError(
            f"{folder.path}: the UNet maps {channels[0]} to {channels[1]} channels; the "
            f"{dataset.name} member set is RGB (3 to 3)"
        )
    resolutions = sorted(int(r) for r in dataset.metrics.get("bands", {}))
    if folder.resolution not in resolutions:
        raise BenchError(
            f"{folder.path}: the UNet samples {folder.resolution}px images; the {dataset.name} "
            f"member set {scale} is scored at {', '.join(map(str, resolutions))}px"
        )


def _accepted(cls: type, config: dict[str, Any], where: Path) -> dict[str, Any]:
    """``config`` without diffusers' bookkeeping keys; any other unknown key is refused."""
    own = {k: v for k, v in config.items() if not k.startswith("_")}
    unknown = sorted(set(own) - config_keys(cls))
    if unknown:
        raise BenchError(f"{where}: key(s) {', '.join(unknown)} are not {cls.__name__} config keys")
    return own


def architecture(folder: DiffusersFolder) -> dict[str, Any]:
    """The UNet config the network is built from (the zoo card's ``[architecture]``)."""
    return _accepted(folder.unet_class, folder.unet_config, folder.unet_dir / UNET_CONFIG)


def load_unet(folder: DiffusersFolder) -> nn.Module:
    """The folder's UNet in fp32: built from its config, weights loaded strictly. The config is
    first built on torch's meta device (no memory) and its size compared with the weights file's
    header, so a config declaring absurd channel counts is refused before it allocates."""
    config = architecture(folder)
    with (
        diffusers_refusal(folder.unet_dir / UNET_CONFIG, f"it as a {folder.unet_class.__name__}"),
        torch.device("meta"),
    ):
        skeleton = folder.unet_class.from_config(config)
    needs = sum(v.numel() for v in skeleton.state_dict().values())
    holds = _weights_numel(folder.weights)
    if needs != holds:
        raise BenchError(
            f"{folder.weights} does not fit its own config (it holds {holds:,} values, the "
            f"config builds a UNet of {needs:,})"
        )
    with diffusers_refusal(folder.unet_dir / UNET_CONFIG, f"it as a {folder.unet_class.__name__}"):
        unet = folder.unet_class.from_config(config)
    try:
        state = load_file(str(folder.weights))
    except (SafetensorError, OSError) as exc:
        raise BenchError(f"{folder.weights} is unreadable ({exc})") from None
    try:
        unet.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BenchError(f"{folder.weights} does not fit its own config ({first})") from None
    return unet


def _weights_numel(path: Path) -> int:
    """The values a safetensors file holds, from its header alone."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise BenchError(f"{path} is unreadable ({exc})") from None


def training_schedule(folder: DiffusersFolder) -> DDPMScheduler:
    """The noising schedule (ᾱ_t) the model was trained under, from the scheduler's config."""
    keys = config_keys(DDPMScheduler)
    with diffusers_refusal(folder.path, "its training schedule as a DDPMScheduler"):
        return DDPMScheduler.from_config(
            {k: v for k, v in folder.scheduler_config.items() if k in keys}
        )


def sampler(folder: DiffusersFolder, name: str | None = None) -> SchedulerMixin:
    """The sampling scheduler: the folder's own class and config, or ``name`` over its config."""
    cls = folder.scheduler_class(name)
    keys = config_keys(cls)
    with diffusers_refusal(folder.path, f"its scheduler config as a {cls.__name__}"):
        return cls.from_config({k: v for k, v in folder.scheduler_config.items() if k in keys})


def dry_run(folder: DiffusersFolder, name: str | None, steps: int) -> None:
    """Build the sampler and the training schedule and take one denoising step on a 2×2 image,
    so a config diffusers refuses only when sampling (a timestep spacing it does not know,
    ``--steps`` above the training steps) is one line before the model is even loaded."""
    trained = SchedulerConfig.model_validate(folder.scheduler_config).num_train_timesteps
    if steps > trained:
        raise BenchError(
            f"--steps {steps} is more than the {trained} steps the model was trained with "
            f"({folder.path}); use at most {trained}"
        )
    chosen = sampler(folder, name)
    with diffusers_refusal(folder.path, f"{type(chosen).__name__} in {steps} steps"):
        training_schedule(folder)
        chosen.set_timesteps(steps)
        x = torch.zeros(1, 3, 2, 2)
        chosen.step(x, chosen.timesteps[0], x)


@contextmanager
def diffusers_refusal(path: Path, what: str) -> Iterator[None]:
    """diffusers' own refusal of a config as one line naming the folder and what was being built.

    Any exception counts: diffusers checks few values itself, so a bad one surfaces as whatever
    the first use of it raises (a ``ValueError``, ``NotImplementedError``, an ``AttributeError``
    for an ``act_fn`` of null, an ``UnboundLocalError`` for an unknown ``time_embedding_type``;
    the fuzz test in tests/test_external.py found these). Only construction and a one-step dry
    run of a 2×2 image happen inside, so nothing else can be what failed."""
    try:
        yield
    except BenchError:
        raise
    except Exception as exc:
        first = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise BenchError(f"{path}: diffusers refuses {what} ({first})") from None
