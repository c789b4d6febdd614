"""`bench data check`, `bench data manifests` and `bench data calibrate`."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from bench.cards import dataset_card
from bench.cards.registry import read_toml
from bench.cli.args import positive_int
from bench.data.build_manifests import build_manifests
from bench.data.celeba import check_root, read_index
from bench.data.manifests import read_manifest, split_nonmembers
from bench.metrics.bands import BAND_NAMES
from bench.metrics.calibrate import calibrate
from bench.utils.paths import data_root


def cmd_check(args: argparse.Namespace) -> int:
    card = dataset_card(args.dataset)
    root = data_root(args.data_root)
    index = read_index(root)
    nonmembers = set(read_manifest(card.nonmembers))
    present = set(index.files)
    withheld = {i for f, i in zip(index.files, index.identities.tolist()) if f in nonmembers}
    eligible = sum(1 for i in index.identities.tolist() if i not in withheld)
    sizes = {s: int(v["size"]) for s, v in card.scales.items()}
    report = check_root(root, sizes, eligible)
    print(f"root: {report.root}")
    print(
        f"images: {report.images} decodable, {report.image_size[0]}×{report.image_size[1]} px; "
        f"identities: {report.identities}; partition rows: {report.partition_rows or 'absent'}"
    )
    print(
        f"non-member pool: {len(nonmembers & present)}/{len(nonmembers)} present; "
        f"{eligible} images eligible as members"
    )
    for scale, ok in report.supplied_scales.items():
        note = "ok" if ok else f"needs {sizes[scale]} member images, root supplies {eligible}"
        print(f"scale {scale:>4}: {note}")
    return 0


def cmd_manifests(args: argparse.Namespace) -> int:
    card = dataset_card(args.dataset)
    index = read_index(data_root(args.data_root))
    seeds = read_toml(card.path)["manifest_seeds"]
    split_nonmembers(index, seeds["nonmember_pool"], seeds["nonmembers"])  # fail before writing
    for name, size in build_manifests(card, index, seeds).items():
        print(f"{name}: {size}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    data = sub.add_parser("data", help="check a CelebA root, rebuild manifests").add_subparsers(
        dest="data_cmd", required=True
    )
    for name, func, text in (
        ("check", cmd_check, "verify a CelebA root end to end"),
        ("manifests", cmd_manifests, "rewrite the committed manifests"),
    ):
        p = data.add_parser(name, help=text)
        p.add_argument("--dataset", default="celeba", help="dataset card (default: celeba)")
        p.add_argument("--data-root", default=None, help="CelebA root (default: $BENCH_DATA)")
        p.set_defaults(func=func)
    add_calibrate_parser(data)
    return data


def add_calibrate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "calibrate",
        help="derive the ℓ2 similarity bands for one resolution and write them into the card",
        description="Compare the non-member pool with a member set at one resolution and store "
        "the resulting ℓ2 band edges and false-match rates in the dataset card.",
    )
    parser.add_argument(
        "--resolution", type=positive_int, required=True, help="image side in pixels"
    )
    parser.add_argument(
        "--scale", help="member set to calibrate against (default: the largest committed scale)"
    )
    parser.add_argument("--dataset", default="celeba", help="dataset card (default: celeba)")
    parser.add_argument("--data-root", help="CelebA root (default: $BENCH_DATA)")
    parser.add_argument(
        "--similarity",
        choices=("sscd", "sscd-distilled"),
        help="calibrate this SSCD model's cosine bands instead of the ℓ2 ones (needs those first)",
    )
    parser.set_defaults(func=cmd_calibrate)
    return parser


def cmd_calibrate(args: argparse.Namespace) -> int:
    entry = calibrate(
        args.resolution, args.scale, args.dataset, args.data_root, similarity=args.similarity
    )
    path = dataset_card(args.dataset).path
    if args.similarity is None:
        rows = [
            [b, entry[b]["lo"], entry[b]["hi"], f"{entry[b]['false_match_rate']:.2%}"]
            for b in BAND_NAMES
        ]
        print(tabulate(rows, headers=["band", "ℓ2 from", "ℓ2 below", "false-match rate"]))
        print(f'written to {path} under [metrics.bands."{args.resolution}"]')
        return 0
    rows = [
        [b, entry[b]["lo"], entry[b]["hi"], entry[b]["edge"], f"{entry[b]['false_match_rate']:.2%}"]
        for b in BAND_NAMES
    ]
    print(tabulate(rows, headers=["band", "SSCD above", "up to", "edge", "false-match rate"]))
    verdict = "allowed" if entry["allowed"] else "refused (copies do not clear the high edge)"
    print(f"blurred copies' 5th percentile similarity {entry['copy_similarity_q05']}: {verdict}")
    print(f'written to {path} under [metrics.sscd_bands."{args.resolution}".{args.similarity}]')
    return 0
