"""The human-readable summary of one run record, printed by `bench run` and `bench grid`.

The attack's own lines (its mechanism's diagnostics) come from its class (``summary_lines``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.attacks.declared import summary_lines
from bench.cards import model_card
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.report.frame import member_count, pool_size


def memorisation_line(record: dict[str, Any]) -> str:
    """What the attacked model is known to memorise, measured when the zoo trained it: an attack
    that finds nothing on a model that memorises nothing has found what there is."""
    if record.get("external"):
        return "attacked model: an external folder; its memorisation is not measured by the suite"
    try:
        trained = model_card(record["model"]).trained
    except BenchError:
        return f"attacked model: {record['model']} (its card is not in the registry)"
    fraction = trained.get("memorised_fraction")
    if fraction is None:
        return f"attacked model: {record['model']}, memorisation not measured"
    hits = trained.get("unique_hits")
    found = f" ({hits} members copied by unguided samples)" if hits is not None else ""
    warning = "; nothing to extract beyond chance is expected" if fraction == 0 else ""
    return (
        f"attacked model: {record['model']}, measured memorised fraction "
        f"{100 * fraction:.1f}%{found}{warning}"
    )


def sscd_line(sscd: dict[str, Any], scale: float) -> str:
    """SSCD similarity's UMS by band beside its chance, the non-members' scaled to the member set
    (× members / pool) as the ℓ2 table's is, with each band's lower edge and whether the dataset
    card calibrated it or kept the paper's."""
    bands = ", ".join(
        f"{band} > {b['lo']:.3f} ({b['edge']}): UMS {100 * sscd['ums'][band]:.2f}% "
        f"(chance {100 * scale * sscd['nonmember']['ums'][band]:.2f}%)"
        for band in BAND_NAMES
        if (b := sscd["bands"].get(band))
    )
    high = len(sscd["members_hit"].get("high", []))
    return f"SSCD similarity ({sscd['model']}): {bands}; members in the high band: {high:,}"


def summary(record: dict[str, Any], path: Path) -> str:
    """The run in a screenful: every member statistic beside its chance level and UMS beside its
    ceiling (members / N_G), since a number alone cannot say whether it is high.

    Chance is what the same outputs reach on the held-out non-members, scaled to the member set
    as the leaderboard scales it (× members / pool): a pool of 1,000 non-members against 5,000
    members would otherwise make look-alikes read as a fifth of what they are. UMS's chance is
    exact (the non-member hit rate × members / N_G); AMS's, a share of outputs near any one of
    the set, is scaled linearly, which holds while the share is small."""
    m = record["metrics"]
    chance = m["nonmember"]
    members = member_count(record)
    scale = members / pool_size(record["dataset"]) if not record.get("external") else 1.0
    budget = record["budget"]
    ceiling = 100 * min(1.0, members / budget)
    rows = [
        [
            band,
            f"{100 * m['ums'][band]:.2f}",
            f"{ceiling:.2f}",
            f"{100 * chance['hit_rate'][band] * members / budget:.2f}",
            f"{100 * m['ams'][band]:.2f}",
            f"{100 * min(1.0, scale * chance['ams'][band]):.2f}",
            f"{100 * m['hit_rate'][band]:.2f}",
            f"{100 * chance['hit_rate'][band]:.2f}",
        ]
        for band in m["ams"]
    ]
    head = (
        f"{record['attack']} on {record['model']} (scale {record['scale']}, seed "
        f"{record['seed']}, N_G={budget})\n{memorisation_line(record)}\n"
    )
    table = tabulate(
        rows,
        headers=[
            "band",
            "UMS %",
            "UMS ceiling %",
            "chance UMS % (scaled to members)",
            "AMS %",
            "chance AMS % (× members / pool)",
            "members hit %",
            "non-members hit %",
        ],
        tablefmt="github",
    )
    extracted = ", ".join(
        f"δ={d}: {n} (chance {scale * chance['extracted'][d]:.0f})"
        for d, n in m["extracted"].items()
    )
    lines = [
        head + table,
        f"extracted members: {extracted}; calibrated: {m['calibrated_extracted']} "
        f"(chance {scale * chance['calibrated_extracted']:.0f}); Gu d1/d2<1/3: "
        f"{100 * m['gu_fraction']:.1f}% of outputs (chance {100 * chance['gu_fraction']:.1f}%), "
        f"{m['gu_unique']} members (chance {scale * chance['gu_unique']:.0f}); chance counts are "
        f"the non-members' scaled to the {members:,} members (× {scale:.3g})",
    ]
    if m.get("sscd"):
        lines.append(sscd_line(m["sscd"], scale))
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
