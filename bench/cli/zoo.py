"""`bench zoo train`, `import` and `list`: train a card end to end, import a diffusers folder as a
card, and show the zoo's state."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from bench.cards import model_card
from bench.cli.args import positive_int
from bench.zoo.manage import train_card, zoo_rows


def cmd_train(args: argparse.Namespace) -> int:
    out = train_card(
        model_card(args.name),
        args.data_root,
        args.max_steps,
        progress=True,
        checkpoint_every=args.checkpoint_every,
    )
    print(json.dumps(out, indent=2))
    return 0


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
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = zoo_rows()
    if args.json:
        print(json.dumps(rows))
    else:
        print(tabulate(rows, headers="keys", tablefmt="github"))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    zoo = sub.add_parser("zoo", help="train and list the model zoo").add_subparsers(
        dest="zoo_cmd", required=True
    )
    p = zoo.add_parser("train", help="train one zoo model to its card's budget (resumable)")
    p.add_argument("name")
    p.add_argument("--data-root", default=None)
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
    p.add_argument("path", metavar="DIR")
    p.add_argument("--name", required=True, help="the new card's name")
    p.add_argument("--scale", required=True, help="the member set the model was trained on")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--dataset", default="celeba")
    p.add_argument("--steps", type=positive_int, default=50, help="the card's sampling steps")
    p.add_argument(
        "--into",
        default=None,
        metavar="CARDS",
        help="a card folder (e.g. one in BENCH_CARDS) to write to instead of the repository's",
    )
    p.set_defaults(func=cmd_import)
    p = zoo.add_parser("list", help="every model card with status and measured memorisation")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
