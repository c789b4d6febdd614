"""`bench zoo train`, `import` and `list`: train a card end to end, import a diffusers folder as a
card, and show the zoo's state."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from bench.cards import ModelCard, model_card, model_cards, scale_order
from bench.cli.args import positive_int
from bench.errors import BenchError
from bench.zoo.manage import checkpoint_status, train_card, zoo_rows


def cmd_train(args: argparse.Namespace) -> int:
    """One card by name, or (``--profile``) every card of a profile that has no checkpoint yet,
    one after another in scale order: a background job that a killed session resumes."""
    if (args.name is None) == (args.profile is None):
        raise BenchError("zoo train takes a card name or --profile, not both or neither")
    if args.name is not None:
        cards = [model_card(args.name)]
    else:
        cards = [r for r in _profile_cards(args.profile) if checkpoint_status(r) != "trained"]
        print(f"{len(cards)} {args.profile} card(s) to train: {', '.join(c.name for c in cards)}")
    for card in cards:
        out = train_card(
            card,
            args.data_root,
            args.max_steps,
            progress=True,
            checkpoint_every=args.checkpoint_every,
        )
        print(json.dumps({"name": card.name, **out}, indent=2), flush=True)
    return 0


def _profile_cards(profile: str) -> list[ModelCard]:
    cards = [c for c in model_cards() if c.profile == profile and not c.imported]
    if not cards:
        known = sorted({c.profile for c in model_cards()})
        raise BenchError(f"no zoo card has profile {profile!r}; valid: {', '.join(known)}")
    return sorted(cards, key=lambda c: (scale_order(c.scale), c.name))


def cmd_import(args: argparse.Namespace) -> int:
    from bench.zoo.import_folder import import_folder

    card = import_folder(
        args.path,
        args.name,
        args.scale,
        profile=args.profile,
        dataset=args.dataset,
        steps=args.steps,
        into=args.into,
    )
    print(f"wrote {card.path} and {card.checkpoint_path}")
    print(
        f"attack it by name: --model {card.name}. Where the zoo has its own scale-{card.scale} "
        f"model, --scale {card.scale} still means that one"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = zoo_rows()
    if args.profile is not None:
        _profile_cards(args.profile)  # refuses an unknown profile, naming the known ones
        rows = [r for r in rows if r["profile"] == args.profile]
    if args.json:
        print(json.dumps(rows))
    else:
        print(tabulate(rows, headers="keys", tablefmt="github"))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    zoo = sub.add_parser("zoo", help="train and list the model zoo").add_subparsers(
        dest="zoo_cmd", required=True
    )
    p = zoo.add_parser("train", help="train zoo models to their cards' budgets (resumable)")
    p.add_argument("name", nargs="?", help="the model card's name (see `bench list models`)")
    p.add_argument(
        "--profile",
        default=None,
        help="instead of a name: every card of this profile without a checkpoint, in turn",
    )
    p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
    p.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        help="stop early after this many steps (the state stays resumable)",
    )
    p.add_argument(
        "--checkpoint-every", type=positive_int, default=500, help="steps between saved states"
    )
    p.set_defaults(func=cmd_train)
    p = zoo.add_parser(
        "import", help="turn a diffusers save_pretrained folder into a zoo card and checkpoint"
    )
    p.add_argument("path", metavar="DIR", help="a diffusers save_pretrained folder")
    p.add_argument("--name", required=True, help="the new card's name")
    p.add_argument("--scale", required=True, help="the member set the model was trained on")
    p.add_argument("--profile", default="cpu", help="the card's profile (default: cpu)")
    p.add_argument("--dataset", default="celeba", help="dataset card (default: celeba)")
    p.add_argument("--steps", type=positive_int, default=50, help="the card's sampling steps")
    p.add_argument(
        "--into",
        default=None,
        metavar="CARDS",
        help="a card folder (e.g. one in BENCH_CARDS) to write to instead of the repository's",
    )
    p.set_defaults(func=cmd_import)
    p = zoo.add_parser("list", help="every model card with status and measured memorisation")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--profile", default=None, help="only this profile's cards (cpu, cpu32, …)")
    p.set_defaults(func=cmd_list)
