"""Safetensors checkpoints: atomic, digest-checked, never unpickled.

Two kinds: the released EMA weights (fp16, committed under models/checkpoints/) and the resumable
training state (fp32 weights, EMA and AdamW moments, under BENCH_HOME). Both carry the card's name
and version in their metadata so a checkpoint cannot be loaded into the wrong card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from bench.cards import ModelCard
from bench.errors import BenchError
from bench.utils.atomic import write_atomic


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    write_atomic(path, lambda p: save_file(flat, str(p), metadata={"bench": json.dumps(meta)}))


def load_tensors(path: Path, card: ModelCard) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of ``path``; refuses files written for another card."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("bench", "{}"))
        tensors = load_file(str(path))
    except (SafetensorError, OSError, json.JSONDecodeError) as exc:
        raise BenchError(
            f"checkpoint {path} is unreadable ({exc}); retrain it with "
            f"`python -m bench zoo train {card.name}`"
        ) from None
    if meta.get("card") != card.name or meta.get("card_version") != card.version:
        raise BenchError(
            f"checkpoint {path} belongs to card {meta.get('card')!r} v{meta.get('card_version')}, "
            f"not {card.name!r} v{card.version}"
        )
    return tensors, meta


def prefixed(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
