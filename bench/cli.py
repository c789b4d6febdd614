"""`python -m bench`: one entry point; user mistakes print one line and exit 2."""

from __future__ import annotations

import argparse
import sys

from bench.cliargs import OneLineParser
from bench.errors import BenchError
from bench.parallel import main_prints, process_group_closed
from bench.provenance import git_commit


def build_parser() -> argparse.ArgumentParser:
    from bench import curves, evaluate, floors, grid, performance, report, run, sweep
    from bench.data import commands as data_commands
    from bench.zoo import commands as zoo_commands

    parser = OneLineParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    sweep.add_parser(sub)
    grid.add_parser(sub)
    curves.add_parser(sub)
    evaluate.add_parser(sub)
    report.add_parser(sub)
    performance.add_parser(sub)
    floors.add_parser(sub)
    data_commands.add_parser(sub)
    zoo_commands.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        git_commit()  # the code this process runs, before HEAD can move
        with process_group_closed(), main_prints():
            return int(args.func(args) or 0)
    except BenchError as exc:
        _close_progress_bars()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished shards and checkpoints are kept; rerun the same command to "
            "resume",
            file=sys.stderr,
        )
        return 130


def _close_progress_bars() -> None:
    """Close the bars a failed step left open (a write that failed mid-sampling), which would
    otherwise share the error's one line."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
