"""`bench` (or `python -m bench`): one entry point; user mistakes print one line and exit 2.

The CLI layer: one module per verb (``run``, ``sweep``, ``grid``, ``curve``, ``evaluate``,
``report``, ``perf``, ``floors``, ``data``, ``zoo``, ``mia``; ``list`` in ``listing``,
``check-attack`` in ``check``), each turning its arguments into calls on the layers below; every
argparse parser lives in this package (``args`` holds the shared ones).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.cli.args import OneLineParser
from bench.errors import BenchError
from bench.utils.parallel import main_prints, process_group_closed
from bench.utils.provenance import git_commit
from bench.utils.runtime import apply_threads


def build_parser() -> argparse.ArgumentParser:
    from bench.cli import (
        check,
        curve,
        data,
        evaluate,
        floors,
        grid,
        listing,
        mia,
        perf,
        report,
        run,
        sweep,
        zoo,
    )

    parser = OneLineParser(prog=program_name(), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    sweep.add_parser(sub)
    grid.add_parser(sub)
    curve.add_parser(sub)
    evaluate.add_parser(sub)
    report.add_parser(sub)
    perf.add_parser(sub)
    floors.add_parser(sub)
    check.add_parser(sub)
    data.add_parser(sub)
    zoo.add_parser(sub)
    listing.add_parser(sub)
    mia.add_parser(sub)
    return parser


def program_name(argv0: str | None = None) -> str:
    """What the user typed: ``bench`` for the console script, ``python -m bench`` for the module
    (whose argv[0] is ``…/bench/__main__.py``), so usage lines and hints can be pasted back."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return "python -m bench" if name in ("__main__.py", "") else name


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        apply_threads()  # BENCH_THREADS, else the CPUs this process may use
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
    except BrokenPipeError:
        # The reader closed the pipe (`bench zoo list | head`, `| grep -q`): it has what it
        # wanted, so this is not a failure. Later writes go nowhere, so Python's own flush at
        # exit cannot raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _close_progress_bars() -> None:
    """Close the bars a failed step left open (a write that failed mid-sampling), which would
    otherwise share the error's one line."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
