"""`bench report`: rebuild the leaderboard and plots from the run records (and galleries)."""

from __future__ import annotations

import argparse

from bench.report.leaderboard import write_gallery, write_leaderboard
from bench.utils.paths import reports_dir


def cmd_report(args: argparse.Namespace) -> int:
    print(f"wrote {write_leaderboard()}")
    if args.galleries:
        for path in sorted((reports_dir() / "runs").rglob("*.json")):
            out = write_gallery(path)
            print(f"gallery: {out}" if out else f"gallery: outputs of {path.name} are not here")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild reports/leaderboard.md and plots from run records")
    p.add_argument(
        "--galleries",
        action="store_true",
        help="also write output galleries under BENCH_HOME (not the repository)",
    )
    p.set_defaults(func=cmd_report)
