"""`bench perf`: time scoring against generation and write reports/performance.md."""

from __future__ import annotations

import argparse

import torch
from tabulate import tabulate

from bench.cli.args import positive_int
from bench.runner.perf import time_generation, time_scoring
from bench.utils.atomic import write_text_atomic
from bench.utils.paths import reports_dir
from bench.utils.provenance import git_commit, machine, versions


def cmd_perf(args: argparse.Namespace) -> int:
    score_s = time_scoring(args.outputs, args.members)
    per_output, steps = time_generation(args.model)
    gen_s = per_output * args.outputs
    rows = [
        [
            f"score {args.outputs:,} outputs vs {args.members:,} members + 1,000 non-members "
            "(16×16, exact faiss)",
            f"{score_s:.1f}",
        ],
        [
            f"generate {args.outputs:,} outputs with `{args.model}` ({steps} DDIM steps; timed on "
            "256, scaled)",
            f"{gen_s:.1f}",
        ],
    ]
    text = (
        f"# Performance\n\nMeasured by `python -m bench perf` on {machine()}, "
        f"{torch.get_num_threads()} torch threads; commit `{git_commit()}`; {versions()}.\n\n"
        + tabulate(rows, headers=["workload", "seconds"], tablefmt="github")
        + f"\n\nScoring costs **{score_s / gen_s:.3f}×** the generation time of the outputs it "
        f"scores ({args.outputs / score_s:,.0f} outputs/s scored vs {1 / per_output:,.0f} "
        "outputs/s generated).\n"
    )
    path = reports_dir() / "performance.md"
    write_text_atomic(path, text)
    print(text)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perf", help="time scoring against generation; writes reports/performance.md"
    )
    p.add_argument("--model", default="celeba-64-cpu")
    p.add_argument("--outputs", type=positive_int, default=100_000)
    p.add_argument("--members", type=positive_int, default=10_000)
    p.set_defaults(func=cmd_perf)
