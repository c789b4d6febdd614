"""`bench check-attack NAME`: run the attack contract on any attack card, the repository's or a
user's under ``BENCH_CARDS`` (``bench.runner.contract``)."""

from __future__ import annotations

import argparse

from bench.runner.contract import check_attack


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-attack",
        help="run the attack contract on an attack card's test profile (a tiny random model)",
    )
    p.add_argument("name", help="the attack card's name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each clause as kept or broken; exit 1 when any is broken."""
    clauses = check_attack(args.name)
    for clause in clauses:
        print(f"{'ok  ' if clause.failure is None else 'FAIL'} {clause.rule}")
        if clause.failure is not None:
            print(f"     {clause.failure}")
    broken = sum(c.failure is not None for c in clauses)
    verdict = f"{broken} of {len(clauses)} clauses broken" if broken else "contract kept"
    print(f"{args.name}: {verdict}")
    return 1 if broken else 0
