"""`bench report`: the leaderboard is a pure function of the committed run records.

Records are grouped by (attack, model, budget, parameters); each group shows mean ± std over its
seeds beside the chance level measured against non-members, and the cost. The main table holds the
configurations the attack cards ship; runs with other parameters (λ sweeps, overrides) are listed
apart, so a sweep can never pass for the benchmark's own setting. Plots go next to the
leaderboard; galleries of outputs go under BENCH_HOME because they can reproduce CelebA faces,
which must never enter the repository.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.atomic import write_text_atomic
from bench.cards import attack_card, attack_names, dataset_card
from bench.errors import BenchError
from bench.metrics import BAND_NAMES
from bench.paths import bench_home, reports_dir
from bench.records import read_record
from bench.zoo.commands import zoo_rows

BANDS = BAND_NAMES
TUNED_MARK = "†"


def load_records(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "runs").rglob("*.json")):
        rec = read_record(path)
        m = rec["metrics"]
        row: dict[str, Any] = {
            "attack": rec["attack"],
            "model": rec["model"],
            "scale": rec["scale"],
            "budget": rec["budget"],
            "seed": rec["seed"],
            "params": json.dumps(rec["params"], sort_keys=True),
            "default": _is_default(rec),
            "members": dataset_card(rec["dataset"]).check_scale(rec["scale"])["size"],
            "unet_evals": rec["cost"]["unet_evaluations"],
            "clf_evals": rec["cost"]["classifier_evaluations"],
            "gu": m["gu_fraction"],
            "gu_unique": m["gu_unique"],
            "calibrated": m["calibrated_extracted"],
            "record": str(path.relative_to(root)),
            **_candidate_columns(rec.get("candidates")),
            "canaries_hit": _canaries_hit(rec.get("canaries")),
        }
        for band in BANDS:
            row[f"ams_{band}"] = m["ams"][band]
            row[f"ums_{band}"] = m["ums"][band]
            row[f"chance_ums_{band}"] = m["nonmember"]["ums"][band]
        for delta, n in m["extracted"].items():
            row[f"extracted_{delta}"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def _is_default(rec: dict[str, Any]) -> bool:
    """Whether a record ran with its attack card's current defaults for its profile."""
    try:
        shipped = attack_card(rec["attack"]).params(rec["profile"])
    except BenchError:
        return False
    return rec["params"] == shipped


def _canaries_hit(canaries: dict[str, Any] | None) -> float:
    """Distinct canaries extracted at the strictest δ (NaN for models without canaries)."""
    if not canaries:
        return np.nan
    return canaries["extracted"][min(canaries["extracted"], key=float)]


def _candidate_columns(cand: dict[str, Any] | None) -> dict[str, float]:
    """Candidate count and members they extract at the strictest δ (NaN for non-filtering)."""
    if not cand:
        return {"candidates": np.nan, "candidates_extracted": np.nan}
    strictest = min(cand["extracted"], key=float)
    return {"candidates": cand["n"], "candidates_extracted": cand["extracted"][strictest]}


def _pm(values: pd.Series, scale: float = 100.0, digits: int = 2) -> str:
    v = values.to_numpy(dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def leaderboard_table(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    keys = ["scale", "model", "attack", "budget", "params"]
    for (scale, model, attack, budget, _), g in df.groupby(keys, sort=False):
        tuned = model in attack_card(attack).tuned_on if attack in attack_names() else False
        row = {
            "scale": scale,
            "model": f"{model} {TUNED_MARK}" if tuned else model,
            "attack": attack,
            "config": g["record"].iloc[0].rsplit("-", 1)[-1].removesuffix(".json"),
            "N_G": budget,
            "seeds": len(g),
        }
        for band in BANDS:
            row[f"UMS {band} %"] = _pm(g[f"ums_{band}"])
            row[f"AMS {band} %"] = _pm(g[f"ams_{band}"])
        row["chance UMS high %"] = _pm(g["chance_ums_high"])
        # UMS counts distinct members, so it can never exceed members / N_G.
        row["UMS ceiling %"] = f"{100 * min(g['members'].iloc[0], budget) / budget:.2f}"
        ext = sorted(c for c in g.columns if c.startswith("extracted_"))
        for c in ext:
            row[f"extracted δ={c.split('_', 1)[1]}"] = _pm(g[c], 1.0, 1)
        row["Gu %"] = _pm(g["gu"])
        if g["candidates"].notna().all():
            row["candidates / extracted at min δ"] = (
                f"{_pm(g['candidates'], 1.0, 1)} / {_pm(g['candidates_extracted'], 1.0, 1)}"
            )
        else:
            row["candidates / extracted at min δ"] = "-"
        row["canaries extracted at min δ"] = (
            _pm(g["canaries_hit"], 1.0, 1) if g["canaries_hit"].notna().all() else "-"
        )
        row["UNet evals"] = f"{int(g['unet_evals'].mean()):,}"
        row["clf evals"] = f"{int(g['clf_evals'].mean()):,}"
        out.append(row)
    table = pd.DataFrame(out)
    order = {s: i for i, s in enumerate(["64", "256", "1k", "5k", "10k"])}
    return table.sort_values(
        ["scale", "model", "attack"],
        key=lambda s: s.map(lambda v: order.get(v, 99) if s.name == "scale" else v),
    ).reset_index(drop=True)


PAPER_ORDER = ("side", "side-ti", "carlini")


def ordering_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per model and band, the attacks ranked by mean UMS, against the SIDE paper's order."""
    rows = []
    for (scale, model), g in df.groupby(["scale", "model"], sort=False):
        present = [a for a in PAPER_ORDER if a in set(g["attack"])]
        if len(present) < 2:
            continue
        means = g.groupby("attack")[[f"ums_{b}" for b in BANDS]].mean() * 100
        for band in BANDS:
            col = means.loc[present, f"ums_{band}"]
            ranked = col.sort_values(ascending=False, kind="stable")
            strict = all(col.iloc[i] > col.iloc[i + 1] for i in range(len(col) - 1))
            rows.append(
                {
                    "scale": scale,
                    "model": model,
                    "band": band,
                    "measured (mean UMS %)": " ≥ ".join(f"{a} {v:.2f}" for a, v in ranked.items()),
                    "paper's order holds": "yes" if strict else "no",
                }
            )
    return pd.DataFrame(rows)


def conditional_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per scale and band: text-conditional (caption model) against carlini (unconditional)."""
    text = df[df["attack"] == "text-conditional"]
    uncond = df[df["attack"] == "carlini"]
    rows = []
    for scale in text["scale"].unique():
        t, u = text[text["scale"] == scale], uncond[uncond["scale"] == scale]
        if u.empty:
            continue
        for band in BANDS:
            tv, uv = t[f"ums_{band}"].mean() * 100, u[f"ums_{band}"].mean() * 100
            rows.append(
                {
                    "scale": scale,
                    "band": band,
                    "text-conditional": f"{tv:.2f} ({', '.join(sorted(set(t['model'])))})",
                    "carlini": f"{uv:.2f} ({', '.join(sorted(set(u['model'])))})",
                    "conditional leaks more": "yes" if tv > uv else "no",
                }
            )
    return pd.DataFrame(rows)


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = df.melt(
        id_vars=["attack", "model"],
        value_vars=[f"ums_{b}" for b in BANDS],
        var_name="band",
        value_name="UMS",
    )
    long["UMS"] *= 100
    long["band"] = long["band"].str.removeprefix("ums_")
    grid = sns.catplot(
        long,
        x="model",
        y="UMS",
        hue="attack",
        col="band",
        kind="bar",
        errorbar="sd",
        height=3.5,
        aspect=1.2,
        sharey=False,
    )
    grid.set_axis_labels("", "UMS (% of N_G)")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=30)
    grid.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(grid.figure)


def _table(frame: pd.DataFrame) -> str:
    return tabulate(
        frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True
    )


def write_leaderboard(root: Path | None = None) -> Path:
    root = root or reports_dir()
    df = load_records(root)
    zoo = zoo_rows(committed_only=True)
    parts = [
        "# memorization-bench leaderboard",
        "",
        "Generated by `python -m bench report` from the committed cards and the run records "
        "under `runs/`; each number is the mean ± std over seeds (a single value where one seed "
        "ran) at equal output budget N_G; `config` is the hash of the attack parameters. "
        "UMS/AMS follow SIDE's Eqs. 6–9 with "
        'the ℓ2 bands of `datasets/celeba.toml` (calibrated against non-members); "chance" is '
        "the same statistic for the held-out non-member pool. Cost counts every UNet and "
        "classifier evaluation, preparation included. "
        f"{TUNED_MARK} marks a model that an attack's default was tuned on (its card's "
        "`tuned_on`), on seeds outside the grid; those rows are not independent of the choice.",
        "",
        "## Zoo",
        "",
        tabulate(zoo, headers="keys", tablefmt="github", missingval="-"),
        "",
        "## Attacks",
        "",
    ]
    if df.empty:
        parts.append("No run records yet.")
    else:
        shipped = df[df["default"]]
        if shipped.empty:
            parts.append("No runs with the cards' defaults yet.")
        else:
            parts.append(_table(leaderboard_table(shipped)))
            plot(shipped, root / "leaderboard.png")
            parts += ["", "![UMS by band](leaderboard.png)"]
            order = ordering_table(shipped)
            if not order.empty:
                parts += [
                    "",
                    "## Against the SIDE paper's order",
                    "",
                    "SIDE reports side > side-ti > carlini on UMS in every band. Ranked by mean "
                    "UMS at each model (ties and reversals count as not holding):",
                    "",
                    _table(order),
                ]
            conditional = conditional_table(shipped)
            if not conditional.empty:
                parts += [
                    "",
                    "## Text-conditional against unconditional extraction",
                    "",
                    "Carlini et al. find conditional models leak more: text-conditional extraction "
                    "on the caption model against carlini on the unconditional model of the same "
                    "subset (mean UMS %).",
                    "",
                    _table(conditional),
                ]
        other = df[~df["default"]]
        if not other.empty:
            parts += [
                "",
                "## Other configurations",
                "",
                "Runs whose parameters differ from the card defaults (λ sweeps, overrides).",
                "",
                _table(leaderboard_table(other)),
            ]
    path = root / "leaderboard.md"
    write_text_atomic(path, "\n".join(parts) + "\n")
    return path


def write_gallery(record_path: Path, n: int = 64) -> Path | None:
    """A PNG grid of a run's first outputs, under BENCH_HOME (never in the repository).

    Returns None when this machine does not hold the run's outputs (records travel, shards don't).
    """
    from PIL import Image

    from bench.store import RunStore

    rec = read_record(record_path)
    run_dir = bench_home() / rec["outputs"]
    if not (run_dir / "shard-00000.npz").is_file():
        return None
    images = RunStore(run_dir).images()[:n]
    side = int(np.ceil(np.sqrt(len(images))))
    h, w = images.shape[1:3]
    canvas = np.full((side * h, side * w, 3), 255, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, side)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    out = (
        bench_home()
        / "galleries"
        / f"{record_path.parent.parent.name}-{rec['model']}-{record_path.stem}.png"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).resize((side * w * 4, side * h * 4), Image.Resampling.NEAREST).save(out)
    return out


def cmd_report(args: argparse.Namespace) -> int:
    print(f"wrote {write_leaderboard()}")
    if args.galleries:
        for path in sorted((reports_dir() / "runs").rglob("*.json")):
            out = write_gallery(path)
            print(f"gallery: {out}" if out else f"gallery: outputs of {path.name} are not here")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild reports/leaderboard.md and plots from run records")
    p.add_argument(
        "--galleries",
        action="store_true",
        help="also write output galleries under BENCH_HOME (not the repository)",
    )
    p.set_defaults(func=cmd_report)
