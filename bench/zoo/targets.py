"""What a cell attacks: a zoo model, or a user's ``save_pretrained`` folder (``--model-path``).

Both become a ``Target``: a model card (a user's folder gets one made up from its configs and the
member set it names, so members, bands and record paths work unchanged), the digest of the
weights, and how to load the denoiser and build its sampler. The run record keeps the full
diffusers configs of what was sampled, and marks a user's folder as external so the leaderboard
never files it with the zoo.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffusers import SchedulerMixin
from torch import nn

from bench.cards import AttackCard, ModelCard, dataset_card, find_model, model_card
from bench.data.manifests import read_manifest
from bench.errors import BenchError
from bench.utils.device import compute_device
from bench.utils.digest import sha256
from bench.zoo import external
from bench.zoo.build import DEFAULT_STEPS, build_sampler, sampling_steps
from bench.zoo.denoiser import Denoiser
from bench.zoo.load import load_denoiser, verified_digest
from bench.zoo.pool import sampler_settings


@dataclass(frozen=True)
class Target:
    card: ModelCard
    digest: str
    load_denoiser: Callable[[], Denoiser]
    make_sampler: Callable[[], SchedulerMixin]
    sampling_steps: int
    external: bool = False
    # Member files listed by the user (``--members``) instead of a dataset scale.
    listed: list[str] | None = None
    listed_from: str | None = None


def zoo_card(attack: AttackCard, scale: str | None, profile: str, model: str | None) -> ModelCard:
    """The zoo model named by ``model`` (its card gives the scale; a ``scale`` given too must be
    its), or the one serving the scale for the attack; checked to be one the attack applies to."""
    if model is not None:
        card = model_card(model)
        if card.profile != profile or scale not in (None, card.scale):
            raise BenchError(
                f"model {card.name} is scale {card.scale}, profile {card.profile}; "
                f"it does not match --scale {scale} --profile {profile} (--model alone suffices)"
            )
    else:
        card = find_model(scale, profile, attack.applies_to[0])
    _check_applies(attack, card.conditioning, card.name)
    return card


def zoo_target(attack: AttackCard, profile: str, model: str) -> Target:
    """The zoo model ``model`` as a cell's target, its checkpoint verified against its card."""
    card = zoo_card(attack, model_card(model).scale, profile, model)
    return Target(
        card=card,
        digest=verified_digest(card),
        load_denoiser=lambda: load_denoiser(card),
        make_sampler=lambda: build_sampler(card),
        sampling_steps=sampling_steps(card),
    )


def external_target(
    attack: AttackCard,
    path: str,
    scale: str | None,
    profile: str,
    *,
    dataset: str = "celeba",
    sampler: str | None = None,
    steps: int | None = None,
    members: str | None = None,
) -> Target:
    """A user's diffusers folder, checked against the member set it was trained on: a dataset
    ``scale``, or the images listed one per line in the file ``members``."""
    dcard = dataset_card(dataset)
    listed = None
    if members is not None:
        listed = listed_members(members, read_manifest(dcard.nonmembers))
        scale = f"{len(listed)}-listed"
    else:
        dcard.check_scale(scale)
    folder = external.read_folder(path)
    if folder.conditioning == "caption":
        raise BenchError(
            f"{folder.path} holds a UNet2DConditionModel: text-conditional extraction needs the "
            "suite's caption encoder, which a folder made elsewhere was not trained with"
        )
    _check_applies(attack, folder.conditioning, str(folder.path))
    external.check_fits(folder, dcard, scale)
    chosen = external.sampler(folder, sampler)  # an unknown --sampler fails before any work
    n_steps = DEFAULT_STEPS if steps is None else steps
    external.dry_run(folder, sampler, n_steps)  # so does any config diffusers refuses to sample
    unet = external.load_unet(folder)  # and so do weights that do not fit their config
    digest = sha256(folder.weights)
    card = ModelCard(
        name=f"{_slug(folder.path.name)}-{digest[:8]}-{sampling_tag(chosen, n_steps)}",
        version=0,
        path=folder.path,
        dataset=dataset,
        scale=scale,
        profile=profile,
        resolution=folder.resolution,
        conditioning=folder.conditioning,
        canaries=False,
        architecture=external.architecture(folder),
        scheduler=folder.scheduler_config,
        training={},
        evaluation={},
    )
    return Target(
        card=card,
        digest=digest,
        load_denoiser=lambda: _external_denoiser(folder, unet),
        make_sampler=lambda: external.sampler(folder, sampler),
        sampling_steps=n_steps,
        external=True,
        listed=listed,
        listed_from=members,
    )


def sampling_tag(sampler: SchedulerMixin, steps: int) -> str:
    """A short digest of how a user's folder is sampled: the sampler's class and full config
    (``--sampler`` over the folder's ``scheduler_config.json``) and ``--steps``. It is part of the
    model's name, so of the cell's folder and its record's path: without it a rerun with another
    ``--steps`` or ``--sampler`` resumed the first run's outputs and overwrote its record with one
    naming the new sampler. A zoo card's sampling is fixed by its card version instead."""
    described = {"_class_name": type(sampler).__name__, **sampler_settings(sampler)}
    text = json.dumps({"sampler": described, "steps": int(steps)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def listed_members(path: str, nonmembers: list[str]) -> list[str]:
    """The member files a manifest names, one per line; each once, and none a non-member (the
    scores compare members against that pool, so an image cannot be in both)."""
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"--members {path} cannot be read ({exc})") from None
    files = [line.strip() for line in lines if line.strip()]
    if not files:
        raise BenchError(f"--members {path} lists no images")
    seen: set[str] = set()
    for name in files:
        if name in seen:
            raise BenchError(f"--members {path} lists {name} twice")
        seen.add(name)
    held_out = sorted(set(files) & set(nonmembers))
    if held_out:
        raise BenchError(
            f"--members {path}: {len(held_out)} listed image(s) are in the dataset's non-member "
            f"pool (first: {held_out[0]}), which the scores compare members against"
        )
    return files


def model_config(denoiser: Denoiser, sampler: SchedulerMixin) -> dict[str, Any]:
    """The full diffusers configs of the UNet and the sampler that made a run's outputs.

    diffusers keeps ``_use_default_values`` as a list made from a set, in an order that changes
    between processes; it is sorted so that a re-run of the same cell writes the same record.
    """
    return {
        "unet": _stable(type(denoiser.unet).__name__, dict(denoiser.unet.config)),
        "scheduler": _stable(type(sampler).__name__, dict(sampler.config)),
    }


def _stable(name: str, config: dict[str, Any]) -> dict[str, Any]:
    out = {"_class_name": name, **config}
    if "_use_default_values" in out:
        out["_use_default_values"] = sorted(out["_use_default_values"])
    return out


def _external_denoiser(folder: external.DiffusersFolder, unet: nn.Module) -> Denoiser:
    unet.eval().requires_grad_(False)
    return Denoiser(unet=unet.to(compute_device()), scheduler=external.training_schedule(folder))


def _check_applies(attack: AttackCard, conditioning: str, model: str) -> None:
    if conditioning not in attack.applies_to:
        raise BenchError(
            f"attack {attack.name} applies to {', '.join(attack.applies_to)} models; "
            f"{model} is {conditioning}"
        )


def _slug(name: str) -> str:
    """A folder name made safe for record paths, and short enough for one (a 300-character
    folder name made the record's file name too long to write)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:64] or "model"
