"""Behind `bench zoo train` and `bench zoo list`: train a card end to end (release and measure
included), and show the zoo's state."""

from __future__ import annotations

import json
from typing import Any

from bench.cards import ModelCard, model_card, model_cards, scale_order, write_trained
from bench.data.subset import members
from bench.utils.atomic import sweep_temporaries
from bench.utils.digest import sha256
from bench.utils.folders import probe_writable
from bench.utils.locks import lock_cell, release
from bench.utils.parallel import current_ranks
from bench.utils.paths import data_root
from bench.utils.provenance import git_commit, machine
from bench.utils.runtime import warn_if_loaded
from bench.zoo.checkpoint import save_tensors
from bench.zoo.load import checkpoint_status, load_denoiser
from bench.zoo.memorisation import measure
from bench.zoo.pool import ModelPool
from bench.zoo.train import state_path, train


def _lock_training(card: ModelCard) -> Any:
    """Probe every folder the training writes, take its lock and sweep what a killed one left."""
    folder = state_path(card).parent
    probe_writable(folder, "the training folder")
    probe_writable(card.checkpoint_path.parent, "the checkpoint folder")
    probe_writable(card.path.parent, "the card folder")
    lock = lock_cell(folder, f"the training of {card.name}")
    sweep_temporaries(folder)
    warn_if_loaded()
    return lock


def train_card(
    card: ModelCard,
    root_override: str | None,
    max_steps: int | None = None,
    progress: bool = True,
    checkpoint_every: int = 500,
) -> dict[str, Any]:
    """Train (or resume) to budget, release the EMA weights, measure and record memorisation.

    The main process first probes every folder the training writes (its state, the checkpoint,
    the card), then takes the training's lock, so two identical trainings in one BENCH_HOME
    cannot both run to the end, and removes what a killed one left half-written.
    """
    lock = _lock_training(card) if current_ranks().is_main else None
    data = members(card, data_root(root_override))
    trainer, result = train(
        card, data, max_steps=max_steps, progress=progress, checkpoint_every=checkpoint_every
    )
    if not trainer.ranks.is_main:  # data-parallel: the main process releases and measures
        return {"status": "worker", "steps": result.steps}
    if result.steps < trainer.total_steps:
        release(lock)
        return {"status": "partial", "steps": result.steps}
    tensors, meta = trainer.release()
    save_tensors(card.checkpoint_path, tensors, meta)
    record: dict[str, Any] = {
        "checkpoint_sha256": sha256(card.checkpoint_path),
        "steps": result.steps,
        "images_seen": result.images_seen,
        "train_wall_minutes": round(result.train_seconds / 60, 1),
        "machine": machine(),
        "commit": git_commit(),
    }
    write_trained(card, record)
    card = model_card(card.name)
    denoiser = load_denoiser(card)
    mem = measure(
        card,
        denoiser,
        data.images,
        data.captions,
        progress=progress,
        counts=data.counts,
        pool=ModelPool(record["checkpoint_sha256"], denoiser),
    )
    record.update(
        memorised_fraction=round(mem.memorised_fraction, 4),
        unique_hits=mem.unique_hits,
        eval_samples=mem.samples,
        median_nearest_l2=round(mem.median_nearest_l2, 4),
    )
    if mem.tier_hits is not None:
        sizes = {int(t): int((data.counts == t).sum()) for t in mem.tier_hits}
        record["tier_hits"] = {str(t): f"{h}/{sizes[t]}" for t, h in mem.tier_hits.items()}
    write_trained(card, record)
    release(lock)
    return {"status": "trained", **record}


def zoo_rows(committed_only: bool = False) -> list[dict[str, Any]]:
    """One row per card; ``committed_only`` ignores local training states (for the leaderboard)."""
    rows = []
    for card in sorted(
        model_cards(),
        key=lambda c: (c.profile, c.conditioning, bool(c.canaries), scale_order(c.scale)),
    ):
        t = card.trained
        status = checkpoint_status(card)
        if committed_only and status == "partial":
            status = "missing"
        seen = t.get("images_seen", 0) if status == "trained" else _partial_images(card, status)
        if card.imported:  # trained elsewhere: the suite does not know how many images it saw
            seen = None
        rows.append(
            {
                "name": card.name,
                "profile": card.profile,
                "scale": card.scale,
                "resolution": card.resolution,
                "conditioning": card.conditioning,
                "canaries": card.canaries or False,
                "imported": card.imported,
                "status": status,
                "images_seen": seen,
                "memorised_fraction": t.get("memorised_fraction"),
                "unique_hits": t.get("unique_hits"),
                "tier_hits (×dup: hit/members)": _tiers(t.get("tier_hits")),
                "role": card.role,
                "headroom": _headroom(card.headroom),
            }
        )
    return rows


def _headroom(h: dict[str, Any]) -> str:
    """'42 copied by 2,048 samples vs 19.7 by carlini at N_G 512': room for an attack to win."""
    if not h:
        return ""
    found = h["baseline_distinct"]
    return (
        f"{h['copied_members']} copied by {h['samples']:,} samples vs "
        f"{sum(found) / len(found):.1f} by {h['baseline']} at N_G {h['budget']}"
    )


def _tiers(hits: dict[str, str] | None) -> str:
    return " ".join(f"×{t}:{h}" for t, h in hits.items()) if hits else ""


def _partial_images(card: ModelCard, status: str) -> int:
    """Images seen by an unfinished training state (0 when there is none or it is unreadable)."""
    if status != "partial":
        return 0
    from safetensors import safe_open

    try:
        with safe_open(str(state_path(card)), framework="pt") as f:
            return int(json.loads((f.metadata() or {}).get("bench", "{}")).get("images_seen", 0))
    except (OSError, ValueError):
        return 0
