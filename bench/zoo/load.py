"""Load a released zoo checkpoint into a ready-to-sample ``Denoiser``.

The checkpoint's sha256 must match the card: results are only comparable if everyone attacks the
same weights, so a mismatch is an error, never a warning.
"""

from __future__ import annotations

from bench.cards import ModelCard
from bench.errors import BenchError
from bench.utils.device import compute_device
from bench.utils.digest import sha256
from bench.zoo.build import (
    SAMPLING_KEYS,
    build_scheduler,
    build_text_encoder,
    build_unet,
    unet_batch,
)
from bench.zoo.checkpoint import load_tensors, unprefixed
from bench.zoo.denoiser import Denoiser


def checkpoint_status(card: ModelCard) -> str:
    """``trained`` (released checkpoint and recorded digest; verified at load), ``partial``
    (a local training state) or ``missing``."""
    from bench.zoo.train import state_path

    if card.checkpoint_path.is_file() and card.trained.get("checkpoint_sha256"):
        return "trained"
    return "partial" if state_path(card).is_file() else "missing"


def verified_digest(card: ModelCard) -> str:
    path = card.checkpoint_path
    if not path.is_file() or not card.trained.get("checkpoint_sha256"):
        raise BenchError(
            f"model {card.name} has no checkpoint; train it with "
            f"`python -m bench zoo train {card.name}`"
        )
    digest = sha256(path)
    if digest != card.trained["checkpoint_sha256"]:
        raise BenchError(
            f"checkpoint {path} has sha256 {digest[:12]}… but card {card.name} records "
            f"{card.trained['checkpoint_sha256'][:12]}…; it belongs to another card or was altered"
        )
    return digest


def load_denoiser(card: ModelCard) -> Denoiser:
    """The card's EMA weights in fp32, in eval mode, digest-checked, on the compute device."""
    verified_digest(card)
    tensors, meta = load_tensors(card.checkpoint_path, card)
    _check_trained_config(card, meta.get("config"))
    unet = build_unet(card)
    _load(unet, unprefixed("unet", tensors), card)
    text = None
    if card.conditioning == "caption":
        text = build_text_encoder(card, meta["vocab"])
        _load(text, unprefixed("text", tensors), card)
        text.eval().requires_grad_(False)
    unet.eval().requires_grad_(False)
    device = compute_device()
    return Denoiser(
        unet=unet.to(device),
        scheduler=build_scheduler(card),
        text_encoder=text.to(device) if text is not None else None,
        unet_batch=unet_batch(card),
    )


def _check_trained_config(card: ModelCard, trained: dict | None) -> None:
    """The card must still describe the network and schedule its checkpoint was trained with.

    Weights of the right shapes load into a UNet with another activation or normalisation and
    give other outputs, so shapes alone prove nothing. How it samples (sampler, steps, the
    images per UNet call) may change.
    """
    if trained is None:
        return
    now = {
        "architecture": card.architecture,
        "scheduler": {k: v for k, v in card.scheduler.items() if k not in SAMPLING_KEYS},
    }
    then = {
        "architecture": trained.get("architecture", {}),
        "scheduler": {
            k: v for k, v in trained.get("scheduler", {}).items() if k not in SAMPLING_KEYS
        },
    }
    changed = sorted(
        f"{table}.{key}"
        for table in now
        for key in set(now[table]) | set(then[table])
        if now[table].get(key) != then[table].get(key)
    )
    if changed:
        raise BenchError(
            f"card {card.name} no longer matches its checkpoint: {', '.join(changed)} changed "
            "since training; restore them or retrain under a new card version"
        )


def _load(module, state, card: ModelCard) -> None:
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BenchError(
            f"checkpoint for {card.name} does not fit its architecture ({first})"
        ) from None
