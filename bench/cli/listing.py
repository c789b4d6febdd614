"""`bench list attacks|models|scales`: what the registry holds, so names need not be guessed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabulate import tabulate

from bench.cards import attack_card, attack_names, dataset_card, model_cards, scale_order


def attack_rows() -> list[dict[str, Any]]:
    rows = []
    for name in attack_names():
        card = attack_card(name)
        rows.append(
            {
                "attack": card.name,
                "version": card.version,
                "threat model": card.threat_model,
                "applies to": ", ".join(card.applies_to),
                "profiles": ", ".join(card.defaults),
                "paper": card.paper,
            }
        )
    return rows


def model_rows() -> list[dict[str, Any]]:
    cards = sorted(model_cards(), key=lambda c: (c.profile, scale_order(c.scale), c.name))
    return [
        {
            "model": c.name,
            "profile": c.profile,
            "scale": c.scale,
            "resolution": c.resolution,
            "conditioning": c.conditioning,
            "kind": "imported" if c.imported else ("canary/ladder" if c.canaries else "plain"),
            "role": c.role,
            "memorised fraction": c.trained.get("memorised_fraction"),
        }
        for c in cards
    ]


def scale_rows() -> list[dict[str, Any]]:
    """Each scale with the model `--scale` picks for it (the plain, unconditional zoo card)."""
    cards = model_cards()
    datasets = sorted({c.dataset for c in cards})
    rows = []
    for dataset in datasets:
        dcard = dataset_card(dataset)
        for scale in sorted(dcard.scales, key=scale_order):
            serving = [
                c
                for c in cards
                if c.dataset == dataset
                and c.scale == scale
                and c.conditioning == "unconditional"
                and not c.canaries
            ]
            own = [c for c in serving if not c.imported] or serving
            rows.append(
                {
                    "dataset": dataset,
                    "scale": scale,
                    "members": dcard.scales[scale].get("size"),
                    "--scale runs": ", ".join(f"{c.name} ({c.profile})" for c in own) or "-",
                    "other models": ", ".join(
                        c.name for c in cards if c.scale == scale and c not in own
                    )
                    or "-",
                }
            )
    return rows


LISTS = {"attacks": attack_rows, "models": model_rows, "scales": scale_rows}


def cmd_list(args: argparse.Namespace) -> int:
    rows = LISTS[args.what]()
    if args.json:
        print(json.dumps(rows))
    else:
        print(tabulate(rows, headers="keys", tablefmt="github", missingval="-"))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the attacks, models or scales the registry holds")
    p.add_argument("what", choices=sorted(LISTS), help="what to list")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=cmd_list)
