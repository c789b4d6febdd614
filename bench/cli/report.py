"""`bench report`: rebuild the leaderboard and plots from a folder of run records (and galleries).

Which folder: ``--results DIR`` (e.g. your own runs' ``--out``), else the leaderboard's (a clone's
reports/ or ``BENCH_REPORTS``), else your runs under BENCH_HOME/results, so an installed wheel
reports on what you ran instead of writing beside the package.
"""

from __future__ import annotations

import argparse

from bench.records import report_root
from bench.report.gallery import galleries_dir, write_gallery
from bench.report.leaderboard import write_leaderboard
from bench.utils.atomic import staged


def cmd_report(args: argparse.Namespace) -> int:
    root = report_root(args.results)
    print(f"wrote {write_leaderboard(root)}")
    if args.galleries:
        # Made in a staging folder and moved into place together once all are made, so a
        # failure midway leaves the earlier galleries as they were.
        made = []
        with staged(galleries_dir()) as stage:
            for path in sorted((root / "runs").rglob("*.json")):
                made.append((path, write_gallery(path, stage, data_root=args.data_root)))
        for path, out in made:
            where = galleries_dir() / out.name if out else f"no verified outputs of {path.name}"
            print(f"gallery: {where}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild the leaderboard and plots from run records")
    p.add_argument(
        "--results",
        default=None,
        metavar="DIR",
        help="the folder of records to report on, and where leaderboard.md goes (default: "
        "reports/ in a clone or $BENCH_REPORTS, else BENCH_HOME/results)",
    )
    p.add_argument(
        "--galleries",
        action="store_true",
        help="also write galleries (each extracted output beside its nearest member) under "
        "BENCH_HOME, never the repository; needs the CelebA root",
    )
    p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
    p.set_defaults(func=cmd_report)
