"""The state file of a resumable preparation step (SIDE's classifier training), under BENCH_HOME.

A long preparation step that is interrupted used to start again from its first step: SIDE's
classifier lost about 19 minutes across two interrupts of ``--attack side --scale 5k``. A step that
saves its state here every so often resumes where it stopped instead.

One file holds everything: the tensors (weights, optimiser moments, generator state) in safetensors
and the step's JSON metadata in the same file's header, so the two cannot come from different
saves; it is written atomically, so an interrupt mid-save leaves the previous state. A file that no
longer loads, or whose metadata fails its pydantic schema or its owner's check, is damage: it is
removed with a one-line notice and the step starts over, never resumed from it. Nothing is
unpickled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import torch
from pydantic import BaseModel, Field
from safetensors.torch import load_file, safe_open, save_file

from bench.utils.atomic import write_atomic
from bench.utils.cachefiles import CORRUPT, load_cached
from bench.utils.schema import Lenient, parse_cache

M = TypeVar("M", bound=BaseModel)
_META = "bench"  # the safetensors header key holding the metadata


def state_path(folder: Path, key: str) -> Path:
    """Where the resumable step keyed ``key`` keeps its state in ``folder``."""
    return folder / f"{key}.state.safetensors"


class Progress(Lenient):
    """What every state's metadata says, whatever else its owner's schema adds: steps done."""

    step: Annotated[int, Field(ge=1)]


def steps_done(path: Path) -> int:
    """The steps a saved state claims, from its header alone, for an estimate; 0 when there is
    none or its header does not read. Resuming checks far more (its owner's ``check``), and a
    state that fails there is made again from step 0, so only an estimate reads this."""
    if not path.is_file():
        return 0
    try:
        with safe_open(str(path), framework="pt") as f:
            return parse_cache(Progress, (f.metadata() or {})[_META]).step
    except CORRUPT:
        return 0


class StateFile:
    """A resumable step's state at ``path``; ``what`` names it in notices."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what

    def save(self, tensors: dict[str, torch.Tensor], meta: BaseModel) -> None:
        flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        header = {_META: meta.model_dump_json()}
        write_atomic(
            self.path,
            lambda p: save_file(flat, str(p), metadata=header),
            sum(v.nelement() * v.element_size() for v in flat.values()),
        )

    def load(
        self, schema: type[M], check: Callable[[dict[str, torch.Tensor], M], None]
    ) -> tuple[dict[str, torch.Tensor], M] | None:
        """The saved tensors and metadata; None when there is no state, or it is damaged (then
        removed, with a notice). ``check`` raises ``ValueError`` for a state its owner cannot
        resume from (another step's inputs, tensors of the wrong shape)."""

        def read(path: Path) -> tuple[dict[str, torch.Tensor], M]:
            with safe_open(str(path), framework="pt") as f:
                header = f.metadata() or {}
            tensors = load_file(str(path))
            if _META not in header:
                raise ValueError("its header holds no metadata")
            meta = parse_cache(schema, header[_META])
            check(tensors, meta)
            return tensors, meta

        return load_cached(self.path, read, self.what)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
