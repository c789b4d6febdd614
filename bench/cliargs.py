"""Argument types shared by the commands, so malformed lists fail as argparse errors (exit 2)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def _number_list(text: str, kind: type, what: str) -> list:
    try:
        values = [kind(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite {what}, got {text!r}")
    return values


def int_list(text: str) -> list[int]:
    return _number_list(text, int, "integers")


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of parameter overrides")
    return value
