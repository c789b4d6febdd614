"""`bench zoo import`: a user's diffusers folder becomes a zoo card and checkpoint.

An imported model is a first-class zoo member: the grid attacks it, the leaderboard ranks it, and
it loads through the same code as the zoo's own (``from_config`` on the whole card tables, a
strict state dict, the digest in ``[trained]``). The card's ``[architecture]`` and ``[scheduler]``
are the folder's diffusers configs, so the card builds exactly the network that was saved; it is
marked ``imported`` and has no ``[training]`` table, because the suite did not train it. The
weights are copied as saved (no fp16 cast), since a changed weight would be another model.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from diffusers import DDPMScheduler
from torch import nn

from bench.cards import (
    TRAINED_MARKER,
    ModelCard,
    dataset_card,
    model_card_at,
    toml_table,
)
from bench.cards.registry import load_cards
from bench.cards.schema import _toml_value
from bench.cards.validate import valid_name
from bench.errors import BenchError
from bench.utils.atomic import write_text_atomic
from bench.utils.digest import sha256
from bench.utils.paths import base_cards_writable, cards_dir
from bench.utils.provenance import git_commit
from bench.zoo import external
from bench.zoo.build import DEFAULT_STEPS, config_keys
from bench.zoo.checkpoint import prefixed, save_tensors
from bench.zoo.load import load_denoiser


def _toml_config(cls: type, config: dict[str, Any], where: Path) -> dict[str, Any]:
    """A diffusers config as a card table: TOML has no null, so a ``None`` is dropped where it is
    the class's default (``from_config`` restores it) and refused where dropping would change it."""
    defaults = {
        k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"
    }
    changed = sorted(k for k, v in config.items() if v is None and defaults.get(k) is not None)
    if changed:
        raise BenchError(
            f"{where}: {', '.join(changed)} set to null where {cls.__name__} defaults to a value; "
            "a card cannot hold it"
        )
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if v is not None}


def import_folder(
    path: str,
    name: str,
    scale: str,
    *,
    profile: str = "cpu",
    dataset: str = "celeba",
    steps: int = DEFAULT_STEPS,
    into: str | None = None,
) -> ModelCard:
    """Write ``models/<name>.toml`` and its checkpoint (under ``into``, default the repository's
    card folder) from a ``save_pretrained`` folder; nothing existing is overwritten. The name is
    checked first: it becomes file names, so '../escape' would write outside the card folder."""
    valid_name(name, "--name")
    if into is None and not base_cards_writable():
        raise BenchError(
            "this install keeps its cards inside the installed package; pass --into CARDS, a "
            "card folder of your own that you then put on BENCH_CARDS"
        )
    folder = external.read_folder(path)
    if folder.conditioning == "caption":
        raise BenchError(
            f"{folder.path} holds a UNet2DConditionModel; the zoo's caption models pair their UNet "
            "with the suite's caption encoder, which a folder made elsewhere lacks"
        )
    dcard = dataset_card(dataset)
    dcard.check_scale(scale)
    external.check_fits(folder, dcard, scale)
    external.dry_run(folder, None, steps)
    card_path, ckpt = _free_paths(name, into)
    unet = external.load_unet(folder)
    architecture, scheduler = _configs(folder, steps)
    head = {
        "name": name,
        "version": 1,
        "imported": True,
        "dataset": dataset,
        "scale": scale,
        "profile": profile,
        "resolution": folder.resolution,
        "conditioning": "unconditional",
        "canaries": False,
    }
    try:  # whatever stops it (a refusal, a fault, Ctrl-C), the name stays free
        trained = _save_checkpoint(ckpt, unet, name, folder, architecture, scheduler)
        write_text_atomic(card_path, _card_text(folder, head, architecture, scheduler, trained))
        card = model_card_at(card_path)
        load_denoiser(card)  # the card must build the saved network and load it strictly
    except BaseException:
        card_path.unlink(missing_ok=True)
        ckpt.unlink(missing_ok=True)
        raise
    return card


def _free_paths(name: str, into: str | None) -> tuple[Path, Path]:
    """The card and checkpoint paths of a new model ``name``, refused if either, or a card of
    that name anywhere in the card folders, exists: nothing is ever overwritten."""
    models = Path(into).expanduser() / "models" if into else cards_dir("models")
    card_path, ckpt = models / f"{name}.toml", models / "checkpoints" / f"{name}.safetensors"
    existing = load_cards("models").get(name)
    if existing or card_path.exists() or ckpt.exists():
        where = existing[0] if existing else card_path if card_path.exists() else ckpt
        raise BenchError(f"model {name!r} already exists ({where}); pick another --name")
    return card_path, ckpt


def _save_checkpoint(
    ckpt: Path,
    unet: nn.Module,
    name: str,
    folder: external.DiffusersFolder,
    architecture: dict[str, Any],
    scheduler: dict[str, Any],
) -> dict[str, Any]:
    """Save the UNet's weights as the zoo's checkpoint; returns the card's [trained] table."""
    meta = {
        "card": name,
        "card_version": 1,
        "config": json.loads(json.dumps({"architecture": architecture, "scheduler": scheduler})),
    }
    save_tensors(ckpt, prefixed("unet", unet), meta)
    return {
        "checkpoint_sha256": sha256(ckpt),
        "imported_from": str(folder.path),
        "source_sha256": sha256(folder.weights),
        "commit": git_commit(),
    }


def _configs(folder: external.DiffusersFolder, steps: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card's [architecture] and [scheduler] tables: the folder's diffusers configs, the
    scheduler's with the sampler class and sampling steps."""
    sampler = folder.scheduler_class()
    architecture = _toml_config(folder.unet_class, external.architecture(folder), folder.unet_dir)
    schedule_keys = config_keys(sampler) | config_keys(DDPMScheduler)
    scheduler = _toml_config(
        sampler,
        {k: v for k, v in folder.scheduler_config.items() if k in schedule_keys},
        folder.path,
    )
    scheduler.update(sampler=sampler.__name__, sampling_steps=steps)
    return architecture, scheduler


def _card_text(
    folder: external.DiffusersFolder,
    head: dict[str, Any],
    architecture: dict[str, Any],
    scheduler: dict[str, Any],
    trained: dict[str, Any],
) -> str:
    return (
        f"# Imported by `bench zoo import` from {folder.path}: trained elsewhere, so it has no\n"
        "# [training] table. [architecture] and [scheduler] are the folder's diffusers configs.\n"
        + "\n".join(f"{k} = {_toml_value(v)}" for k, v in head.items())
        + "\n\n"
        + toml_table("architecture", architecture)
        + "\n"
        + toml_table("scheduler", scheduler)
        + "\n"
        + toml_table("trained", trained, TRAINED_MARKER)
    )
