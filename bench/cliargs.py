"""The command line's parser and argument types: every mistake is one line and exit 2.

Numbers go through ``bench.validate``, the same checks ``run_cell`` and the card loader apply, so
a NaN λ or a negative seed is refused before any work starts, whichever command receives it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, NoReturn

from bench import validate
from bench.errors import BenchError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line and a pointer to ``--help``, not the usage block."""

    def error(self, message: str) -> NoReturn:
        raise BenchError(f"{message}; see `{self.prog} --help`")


def _checked(parse: Callable[[str], Any], check: Callable[[Any], Any], what: str) -> Any:
    """An argparse type: ``parse`` the text, then ``check`` it; both fail as argparse errors."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value)
        except BenchError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _each(check: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    return lambda values: [check(v) for v in values]


def _split(kind: type) -> Callable[[str], list[Any]]:
    return lambda text: [kind(x) for x in text.split(",")]


def _finite(value: float) -> float:
    return float(validate.number(value, "the value"))


def _positive(value: int) -> int:
    return validate.integer(value, "the value", 1)


finite_float = _checked(float, _finite, "a finite number")
positive_int = _checked(int, _positive, "a positive integer")
seed_int = _checked(int, validate.seed, "an integer seed")
seed_list = _checked(_split(int), _each(validate.seed), "comma-separated integer seeds")
budget_list = _checked(_split(int), _each(validate.budget), "comma-separated positive budgets")


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of parameter overrides")
    return value
