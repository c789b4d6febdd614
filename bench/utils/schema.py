"""Typed loading at the boundary: a file's parsed JSON checked against a pydantic model, once.

Why a schema library, and why pydantic v2: the suite read its inputs field by field (``raw.get``,
``isinstance`` chains, ``int(meta["step"])``), and each hand-written reader missed something, so a
tampered or stale file either ended in a traceback or, worse, entered a record (a wall time of
-1000 s, a training state claiming 10^12 steps). A declared model states every field's type and
bounds in one place, checks them all before anything is used, and names the failing field.
pydantic v2 was chosen over msgspec and attrs+cattrs because its errors carry the field's path,
the value and what was expected (the one-line message below is built from them), it checks
bounds (``ge``, ``le``, finite floats) declaratively, it runs in strict mode (no "3" → 3, no
True → 1) and it is the most widely known of the three to contributors; its Rust core makes the
few small files read here cost microseconds.

Two ways to fail, because the files are of two kinds. A user's input (a record, a model folder's
config) is ``parse``d: a bad value is a ``BenchError``, one line naming the file, the field and
what was expected, exit 2, before anything is written. A cache under BENCH_HOME is ``parse_cache``d:
a bad value is a ``ValueError``, which ``bench.utils.cachefiles.load_cached`` treats as damage, so
the file is removed with a notice and made again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)
# Ten years: more is not a time any run or training measured, it is a tampered file.
MAX_SECONDS = 10 * 365 * 24 * 3600.0


class Strict(BaseModel):
    """The base of every schema here: exact types, no unknown keys, no NaN or infinity, and
    immutable once checked."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class Lenient(Strict):
    """For files that other programs write too (a diffusers config holds many keys this suite
    does not read): unknown keys pass through unchecked, the declared ones are checked."""

    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False, frozen=True)


# The parts of an error's location that name a member of a union (``constrained-int``,
# ``list[constrained-int]``, ``int``), not a key of the file.
_UNION_TAG = re.compile(r"^(int|str|float|bool|list|dict|none|[a-z]+(-[a-z]+)+.*|\w+\[.*\])$")


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not _UNION_TAG.match(str(p))) or "the file"


def first_problem(exc: ValidationError) -> str:
    """pydantic's first error as ``field is value: expectation``; a value that fits no member of
    a union lists what each member expected."""
    errors = exc.errors(include_url=False)
    where = _where(errors[0]["loc"])
    if errors[0]["type"] == "missing":
        return f"{where} is missing"
    same = [e for e in errors if _where(e["loc"]) == where]
    shown = repr(errors[0].get("input"))
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    expected = " or ".join(dict.fromkeys(e["msg"][0].lower() + e["msg"][1:] for e in same))
    return f"{where} is {shown}: {expected}"


def _validate(model: type[M], data: Any) -> M:
    """JSON text is parsed by pydantic itself (strict JSON: no NaN, arrays become tuples where
    declared, absurd nesting refused); anything else is checked as Python values."""
    if isinstance(data, str | bytes):
        return model.model_validate_json(data)
    return model.model_validate(data)


def parse(model: type[M], data: Any, source: Path | str, advice: str = "") -> M:
    """``data`` (JSON text, or values) as ``model``; one ``BenchError`` line naming ``source``
    and the field if not, ending with ``advice`` (what to do about it) where given."""
    from bench.errors import BenchError

    try:
        return _validate(model, data)
    except ValidationError as exc:
        tail = f"; {advice}" if advice else ""
        raise BenchError(f"{source}: {first_problem(exc)}{tail}") from None


def parse_cache(model: type[M], data: Any) -> M:
    """``data`` (JSON text, or values) as ``model``; a ``ValueError`` (a damaged cache, to be
    made again) if not."""
    try:
        return _validate(model, data)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None
