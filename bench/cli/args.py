"""The command line's parser and argument types: every mistake is one line and exit 2.

Numbers go through ``bench.cards.validate``, the same checks ``run_cell`` and the card loader
apply, so a NaN λ or a negative seed is refused before any work starts, whichever command
receives it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from bench.cards import AttackCard, validate
from bench.cards.overrides import parse_sets
from bench.errors import BenchError
from bench.records import results_root
from bench.runner.spec import CellSpec, FolderModel, ZooModel, zoo_model
from bench.zoo.build import DEFAULT_STEPS


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
positive_list = _checked(_split(int), _each(_positive), "comma-separated positive integers")


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of parameter overrides")
    return value


def add_results_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", default=None, help="folder for the records (default: BENCH_HOME/results)"
    )
    where.add_argument(
        "--publish",
        action="store_true",
        help="write the records into reports/, replacing the committed ones (maintainers)",
    )


def results_from_args(args: argparse.Namespace) -> Path:
    """The folder the command's records go under (``--out``, ``--publish`` or the default)."""
    return results_root(publish=args.publish, out=args.out)


def add_cell_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that name one cell and where its record goes (`run`, `sweep`)."""
    p.add_argument("--attack", required=True, help="attack card name (see `bench list attacks`)")
    trained_on = p.add_mutually_exclusive_group()
    trained_on.add_argument(
        "--scale", help="the member set: a dataset scale (64, 1k, …; see `bench list scales`)"
    )
    trained_on.add_argument(
        "--members",
        metavar="MANIFEST",
        help="with --model-path: the member set as a file of image names, one per line",
    )
    p.add_argument(
        "--profile",
        default=None,
        help="cpu, cpu32 or paper: the zoo and card defaults (default: --model's, else cpu)",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="the run's seed (default 0)")
    add_budget_arguments(p)
    p.add_argument(
        "--model",
        default=None,
        help="a zoo model by name (see `bench list models`); its card gives the scale",
    )
    add_model_path_arguments(p)
    p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override an attack card parameter (repeatable); typed by the card's default",
    )
    add_compile_argument(p)
    add_results_arguments(p)


def profile_from_args(args: argparse.Namespace) -> str:
    """``--profile``, else the profile of the zoo card ``--model`` names, else cpu: a card knows
    its own profile, as it knows its scale."""
    if args.profile is not None:
        return args.profile
    if getattr(args, "model", None) is not None and getattr(args, "model_path", None) is None:
        from bench.cards import model_card

        return model_card(args.model).profile
    return "cpu"


def add_compile_argument(p: argparse.ArgumentParser) -> None:
    """``--compile``: the UNet through torch.compile (`run`, `sweep`, `curve`, `grid`), as
    ``BENCH_COMPILE=1`` does; the record says so, since outputs can differ by rounding."""
    p.add_argument(
        "--compile",
        action="store_true",
        help="run the UNet through torch.compile (as BENCH_COMPILE=1; compiling takes ~1 min)",
    )


def compile_from_args(args: argparse.Namespace) -> bool | None:
    """True for ``--compile``; None leaves it to ``BENCH_COMPILE``."""
    return True if args.compile else None


def add_budget_arguments(p: argparse.ArgumentParser) -> None:
    """``--budget N_G`` (default: the card's) and ``--force`` to go above the cap (`run`,
    `grid`)."""
    p.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        help=f"N_G (card default); at most {validate.BUDGET_LIMIT:,} unless --force",
    )
    add_force_argument(p)


def add_force_argument(p: argparse.ArgumentParser) -> None:
    """``--force``: run a budget above ``validate.BUDGET_LIMIT`` (`run`, `sweep`, `curve`,
    `floors`); its time and disk estimate is printed before it starts."""
    p.add_argument(
        "--force",
        action="store_true",
        help=f"allow an output budget above {validate.BUDGET_LIMIT:,} (the estimate prints first)",
    )


def add_model_path_arguments(p: argparse.ArgumentParser) -> None:
    """Attack a user's diffusers folder instead of a zoo model (`run`, `sweep`, `curve`)."""
    p.add_argument(
        "--model-path",
        default=None,
        metavar="DIR",
        help="a diffusers save_pretrained folder (UNet + scheduler), trained on --scale's members",
    )
    p.add_argument(
        "--sampler",
        default=None,
        help="with --model-path: ddim, ddpm or a diffusers scheduler class (default: the folder's)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"with --model-path: sampling steps (default {DEFAULT_STEPS})",
    )


def model_from_args(
    args: argparse.Namespace, acard: AttackCard, profile: str
) -> ZooModel | FolderModel:
    """``--model-path`` (with ``--scale`` or ``--members``, ``--sampler``, ``--steps``) as a
    folder; else ``--model``, or the zoo model serving ``--scale``, as a zoo card."""
    if args.model_path is None:
        if args.sampler is not None or args.steps is not None or args.members is not None:
            raise BenchError(
                "--sampler, --steps and --members apply to --model-path; a zoo card sets its own"
            )
        if args.scale is None and args.model is None:
            raise BenchError(
                "name the model: --scale S (the zoo's model for that member set), --model NAME "
                "or --model-path DIR; see `bench list models`"
            )
        return zoo_model(acard, args.scale, profile, args.model)
    if args.model is not None:
        raise BenchError("give --model or --model-path, not both")
    return FolderModel(args.model_path, args.scale, args.members, args.sampler, args.steps)


def overrides_from_args(
    args: argparse.Namespace, acard: AttackCard, profile: str
) -> dict[str, Any]:
    """``--set KEY=VALUE`` overrides, typed by the card, plus the card's ``--lambda`` alias."""
    overrides = parse_sets(acard, profile, args.set)
    lam = getattr(args, "lam", None)
    if lam is not None:
        if "lambda" not in acard.aliases:
            raise BenchError(
                f"attack {acard.name} declares no --lambda alias (a parameter's alias in its "
                "card); "
                "use --set KEY=VALUE"
            )
        overrides[acard.aliases["lambda"]] = lam
    return overrides


def spec_from_args(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> CellSpec:
    """The cell named by a command's arguments (see ``add_cell_arguments``)."""
    from bench.cards import attack_card

    if args.budget is not None:
        validate.budget_allowed(args.budget, args.force)
    acard = attack_card(args.attack)
    profile = profile_from_args(args)
    if overrides is None:
        overrides = overrides_from_args(args, acard, profile)
    return CellSpec(
        attack=args.attack,
        model=model_from_args(args, acard, profile),
        profile=profile,
        seed=args.seed,
        budget=args.budget,
        overrides=overrides,
        data_root=args.data_root,
    )
