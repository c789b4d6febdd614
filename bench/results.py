"""Where a run's record goes: the user's results folder, unless the run is published.

The records under reports/ are the leaderboard, so a user's run must never replace one (the
README's main job once did, with numbers from newer code). User runs go to BENCH_HOME/results or
to ``--out``; only ``--publish``, and `bench grid`, which refreshes the leaderboard, write into
reports/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.folders import writable_folder
from bench.paths import bench_home, reports_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", default=None, help="folder for the records (default: BENCH_HOME/results)"
    )
    where.add_argument(
        "--publish",
        action="store_true",
        help="write the records into reports/, replacing the committed ones (maintainers)",
    )


def user_results() -> Path:
    return writable_folder(bench_home() / "results", "the results folder")


def results_root(args: argparse.Namespace) -> Path:
    """The folder a command's records go under, checked before the command does any work."""
    if args.publish:
        return writable_folder(reports_dir(), "the reports folder")
    if args.out is not None:
        return writable_folder(Path(args.out).expanduser(), "the --out folder")
    return user_results()
