"""`bench evaluate`: score any set of images against a zoo model's members and non-members.

This is the front door for people scoring models that are not in the zoo, so the checks that need
no data (scale, sample folder, SSCD file) run first and fail in a second, before anything slow.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.cards import ModelCard, dataset_card, find_model
from bench.data.subset import members, nonmembers
from bench.errors import BenchError
from bench.metrics import BAND_NAMES, score
from bench.metrics.samples import load_samples
from bench.metrics.sscd import require_model_file
from bench.utils.paths import data_root


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="score generated images against a model's training set (AMS/UMS, extraction)",
        description="Score a folder of PNG/JPEG images or an .npz (uint8 N×H×W×3) against the "
        "members and non-members of a zoo model, at the model's resolution.",
    )
    parser.add_argument(
        "--samples",
        type=Path,
        required=True,
        help="folder of PNG/JPEG images, or .npz whose first array is the images",
    )
    parser.add_argument("--dataset", default="celeba")
    parser.add_argument("--scale", required=True, help="member scale of the model, e.g. 1k")
    parser.add_argument("--profile", default="cpu", help="zoo profile (default: cpu)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--sscd", type=Path, help="local TorchScript SSCD model for SIDE's similarity bands"
    )
    parser.add_argument("--data-root", help="CelebA root (default: $BENCH_DATA)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    data = dataset_card(args.dataset)
    model = find_model(args.scale, args.profile, "unconditional")
    if model.dataset != data.name:
        raise BenchError(
            f"the {args.profile} {args.scale} model is trained on {model.dataset}, not {data.name}"
        )
    bands = data.bands(model.resolution)
    if "deltas" not in data.metrics:
        raise BenchError(
            f"dataset card {data.path} has no [metrics] deltas; add e.g. deltas = [0.05, 0.1, 0.15]"
        )
    sscd_bands = None
    if args.sscd is not None:
        require_model_file(args.sscd)
        sscd_bands = data.metrics.get("sscd", {}).get("bands")
        if sscd_bands is None:
            raise BenchError(f"dataset card {data.path} has no [metrics.sscd] bands")
    outputs = load_samples(args.samples, model.resolution, progress=True)
    root = data_root(args.data_root)
    member_images = members(model, root).images
    nonmember_images = nonmembers(model, root).images
    result = score(
        outputs,
        member_images,
        nonmember_images,
        bands,
        data.metrics["deltas"],
        sscd=args.sscd,
        sscd_bands=sscd_bands,
        progress=True,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(render(result, model, len(member_images), len(nonmember_images)))
    return 0


def _pct(x: float) -> str:
    return f"{x:.3%}"


def render(result: dict[str, Any], model: ModelCard, n_members: int, n_nonmembers: int) -> str:
    """The human-readable report: every member number beside its non-member chance level."""
    chance = result["nonmember"]
    head = (
        f"{result['n_outputs']} outputs vs {n_members} members of {model.name} "
        f"({model.resolution}px); chance = the same against {n_nonmembers} non-members"
    )
    band_rows = [
        [
            b,
            f"[{e['lo']:.4f}, {e['hi']:.4f})",
            _pct(result["ams"][b]),
            _pct(chance["ams"][b]),
            _pct(result["ums"][b]),
            _pct(chance["ums"][b]),
            _pct(e["false_match_rate"]) if "false_match_rate" in e else "-",
        ]
        for b, e in ((b, result["bands"][b]) for b in BAND_NAMES)
    ]
    bands = tabulate(
        band_rows,
        headers=["ℓ2 band", "distance", "AMS", "chance", "UMS", "chance", "false-match rate"],
    )
    stat_rows = [
        [f"(ℓ2, {d})-extracted members", n, chance["extracted"][d]]
        for d, n in result["extracted"].items()
    ]
    stat_rows += [
        [
            "calibrated ℓ < 1 members (α 0.5, n 50)",
            result["calibrated_extracted"],
            chance["calibrated_extracted"],
        ],
        [
            "Gu d1/d2 < 1/3: share of outputs",
            _pct(result["gu_fraction"]),
            _pct(chance["gu_fraction"]),
        ],
        ["Gu d1/d2 < 1/3: distinct members", result["gu_unique"], chance["gu_unique"]],
        [
            "nearest distance, 95th percentile",
            f"{result['nearest_p95']:.4f}",
            f"{chance['nearest_p95']:.4f}",
        ],
    ]
    parts = [head, "", bands, "", tabulate(stat_rows, headers=["statistic", "members", "chance"])]
    if "sscd" in result:
        s = result["sscd"]
        sscd_rows = [
            [
                b,
                f"({s['bands'][b]['lo']}, {s['bands'][b]['hi']}]",
                _pct(s["ams"][b]),
                _pct(s["nonmember"]["ams"][b]),
                _pct(s["ums"][b]),
                _pct(s["nonmember"]["ums"][b]),
            ]
            for b in BAND_NAMES
        ]
        parts += [
            "",
            tabulate(
                sscd_rows, headers=["SSCD band", "similarity", "AMS", "chance", "UMS", "chance"]
            ),
        ]
    return "\n".join(parts)
