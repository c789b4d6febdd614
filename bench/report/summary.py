"""The human-readable summary of one run record, printed by `bench run` and `bench grid`.

The attack's own lines (its mechanism's diagnostics) come from its class (``summary_lines``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.attacks.declared import summary_lines


def summary(record: dict[str, Any], path: Path) -> str:
    m = record["metrics"]
    rows = [
        [
            band,
            f"{100 * m['ams'][band]:.2f}",
            f"{100 * m['ums'][band]:.2f}",
            f"{100 * m['nonmember']['ams'][band]:.2f}",
            f"{100 * m['nonmember']['ums'][band]:.2f}",
            f"{100 * m['hit_rate'][band]:.2f}",
            f"{100 * m['nonmember']['hit_rate'][band]:.2f}",
        ]
        for band in m["ams"]
    ]
    head = (
        f"{record['attack']} on {record['model']} (scale {record['scale']}, seed "
        f"{record['seed']}, N_G={record['budget']})\n"
    )
    table = tabulate(
        rows,
        headers=[
            "band",
            "AMS %",
            "UMS %",
            "chance AMS %",
            "chance UMS %",
            "members hit %",
            "non-members hit %",
        ],
        tablefmt="github",
    )
    extracted = ", ".join(f"δ={d}: {n}" for d, n in m["extracted"].items())
    lines = [
        head + table,
        f"extracted members: {extracted}; calibrated: "
        f"{m['calibrated_extracted']}; Gu d1/d2<1/3: {100 * m['gu_fraction']:.1f}% of "
        f"outputs, {m['gu_unique']} members",
    ]
    if record.get("candidates"):
        c = record["candidates"]
        lines.append(
            f"candidates: {c['n']} ranked; precision/extracted by δ: "
            + ", ".join(f"{d}: {c['precision'][d]:.2f}/{c['extracted'][d]}" for d in c["precision"])
        )
    if record.get("canaries"):
        k = record["canaries"]
        tiers = "; ".join(
            f"×{t['times']}: {round(t['hit_rate']['high'] * t['n'])}/{t['n']}" for t in k["tiers"]
        )
        lines.append(
            f"duplicated members in the high band by tier: {tiers} "
            f"(lowest tier reached: {k['lowest_tier_reached'] or 'none'})"
        )
    lines += summary_lines(record["attack"], record.get("info"))
    cost = record["cost"]
    lines.append(
        f"cost: {cost['unet_evaluations']:,} UNet evals, "
        f"{cost['classifier_evaluations']:,} classifier evals; "
        f"{record['wall_seconds']} s wall; record: {path}"
    )
    return "\n".join(lines)
