"""A floor file (``reports/floors/<attack>-<model>.json``, written by `bench floors`) read back
through one pydantic model (``bench.utils.schema`` says why), for CI and `bench report`.

A floor file that was not JSON, or lacked ``ci_seed``, failed as a traceback after the
leaderboard's plots had been rewritten; read here, before anything is written, it is one line
naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from bench.errors import BenchError
from bench.utils.imagefiles import regular_file
from bench.utils.schema import Lenient, parse


class FloorMetric(Lenient):
    """One floored metric: the floor CI holds the attack to."""

    floor: float


class Mutation(Lenient):
    """One mechanism switched off, and whether some floor catches it."""

    caught: bool


class FloorFile(Lenient):
    attack: str
    model: str
    budget: Annotated[int, Field(ge=1)]
    ci_seed: Annotated[int, Field(ge=0)]
    metrics: dict[str, FloorMetric]
    mutations: dict[str, Mutation] = {}


def read_floor(path: Path) -> dict[str, Any]:
    """The floor file at ``path`` as written (a dict), once its fields check; else one line."""
    try:
        raw = json.loads(regular_file(path, "floor file").read_text())
    except (OSError, ValueError, RecursionError) as exc:
        why = " ".join(str(exc).split())[:120]
        raise BenchError(f"floor file {path} is not JSON ({why}); re-run `bench floors`") from None
    parse(FloorFile, raw, f"floor file {path}", "re-run `bench floors`")
    return raw
