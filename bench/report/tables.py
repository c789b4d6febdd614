"""The leaderboard's tables, each a view of the record frame (``bench.report.frame``).

Every table groups by (model, attack, N_G, parameters) and shows mean ± std over seeds. Beside the
ranking sit the measurements that explain it: member against non-member hit rates (is there
anything above chance to extract?), the lowest duplicate tier reached, and each attack's own
mechanism checks (the diagnostics its class declares, e.g. SIDE's steering rate and classifier
accuracy). A ranking without them would be a guess. The papers' claims that the tables judge
come from the attack cards' ``[claims]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.cards import attack_card, attack_names, scale_order
from bench.report import columns as C
from bench.report.answer import PAIRED
from bench.report.claims import MarginClaim
from bench.report.frame import BANDS
from bench.report.verdicts import ALPHA, Contrast, MarginTest, Verdict, contrast, judge_margin, rank

TUNED_MARK = "†"
GROUP = [C.SCALE, C.MODEL, C.ATTACK, C.BUDGET, C.PARAMS]


def pm(values: pd.Series, scale: float = 100.0, digits: int = 2) -> str:
    v = values.to_numpy(dtype=float) * scale
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def _model_label(model: str, attack: str) -> str:
    tuned = attack in attack_names() and model in attack_card(attack).tuned_on
    return f"{model} {TUNED_MARK}" if tuned else model


def _in_scale_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows by N_G, then by subset size (64 before 1k, which text order would reverse)."""
    return (
        df.assign(_s=df[C.SCALE].map(scale_order))
        .sort_values([C.BUDGET, "_s", C.MODEL, C.ATTACK], kind="stable")
        .drop(columns="_s")
    )


def _groups(df: pd.DataFrame):
    return _in_scale_order(df).groupby(GROUP, sort=False)


def _head(keys: tuple, g: pd.DataFrame) -> dict[str, object]:
    scale, model, attack, budget, _ = keys
    return {
        "N_G": budget,
        "scale": scale,
        "model": _model_label(model, attack),
        "attack": attack,
        "config": g[C.CONFIG].iloc[0],
        "seeds": len(g),
    }


def leaderboard_table(df: pd.DataFrame) -> pd.DataFrame:
    """UMS/AMS by band, extraction, Gu and cost; one row per configuration, sorted by N_G."""
    out = []
    for keys, g in _groups(df):
        row = _head(keys, g)
        for band in BANDS:
            row[f"UMS {band} %"] = pm(g[C.ums(band)])
            row[f"AMS {band} %"] = pm(g[C.ams(band)])
        # Scaled to the member set: the non-members' own UMS counts hits in a pool of another
        # size, which made look-alikes on a large model read as a fifth of what they are.
        row["chance UMS high % (scaled)"] = pm(g[C.CHANCE_HIGH] / g[C.BUDGET])
        # UMS counts distinct members, so it can never exceed members / N_G.
        budget = keys[3]
        ceiling = min(g[C.MEMBERS].iloc[0], budget)
        row["UMS ceiling %"] = f"{100 * ceiling / budget:.2f}"
        for c in sorted(c for c in g.columns if c.startswith(C.EXTRACTED)):
            row[f"extracted δ={c.removeprefix(C.EXTRACTED)}"] = pm(g[c], 1.0, 1)
        row["Gu %"] = pm(g[C.GU])
        row["candidates / extracted at min δ"] = (
            f"{pm(g[C.CANDIDATES], 1.0, 1)} / {pm(g[C.CANDIDATES_EXTRACTED], 1.0, 1)}"
            if g[C.CANDIDATES].notna().all()
            else "-"
        )
        row["UNet evals"] = f"{int(g[C.UNET_EVALS].mean()):,}"
        row["clf evals"] = f"{int(g[C.CLF_EVALS].mean()):,}"
        out.append(row)
    return pd.DataFrame(out)


def signal_table(df: pd.DataFrame) -> pd.DataFrame:
    """Share of members against share of non-members within each band of some output.

    A non-member can only be near an output by chance, so where the member share is no higher
    than the non-member share the band holds look-alikes, not extraction.
    """
    out = []
    for keys, g in _groups(df):
        if g[C.hit("high")].isna().all():
            continue
        row = _head(keys, g)
        for band in BANDS:
            row[f"{band}: members / non-members hit %"] = (
                f"{pm(g[C.hit(band)])} / {pm(g[C.nm_hit(band)])}"
            )
        row["nearest member / non-member (median ℓ2)"] = (
            f"{pm(g[C.NEAREST], 1.0, 4)} / {pm(g[C.NM_NEAREST], 1.0, 4)}"
        )
        out.append(row)
    return pd.DataFrame(out)


def tiers_table(df: pd.DataFrame) -> pd.DataFrame:
    """Duplicated members in the high band per tier, and the lowest tier each seed reached."""
    out = []
    for keys, g in _groups(df):
        if not g[C.TIER_HITS].astype(bool).any():
            continue
        row = _head(keys, g)
        low = g[C.LOWEST_TIER]
        row["lowest tier reached, per seed"] = ", ".join(
            "none" if np.isnan(v) else f"×{int(v)}" for v in low
        )
        row["high-band hits per tier, per seed"] = " | ".join(g[C.TIER_HITS])
        out.append(row)
    return pd.DataFrame(out)


def diagnostics_tables(df: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(title, text, table) per diagnostics section the attacks declare: their mechanism,
    measured (for SIDE: does guidance land in the target cluster, and can the classifier tell the
    clusters apart at the noise levels where it steers?)."""
    if C.DIAG_TITLE not in df:
        return []
    out = []
    for title in sorted(t for t in df[C.DIAG_TITLE].unique() if t):
        part = df[df[C.DIAG_TITLE] == title]
        columns = [c for c in df.columns if c.startswith(C.DIAG) and part[c].notna().any()]
        rows = []
        for keys, g in _groups(part):
            row = _head(keys, g)
            for c in columns:
                row[c.removeprefix(C.DIAG)] = pm(g[c])
            rows.append(row)
        out.append((title, part[C.DIAG_TEXT].iloc[0], pd.DataFrame(rows)))
    return out


def ordering_table(
    df: pd.DataFrame,
    order: tuple[str, ...] | list[str],
    bands: tuple[str, ...] = BANDS,
    margin: MarginClaim | None = None,
) -> pd.DataFrame:
    """Per model, N_G and band, the attacks ranked by mean UMS against a paper's ``order`` (an
    attack card's ``[claims.order]``, e.g. SIDE's side > side-ti > carlini).

    The order is judged only where some attack beats chance: a band whose member hit rate is no
    higher than its non-member hit rate for every attack has nothing to extract, so ranking
    attacks there would rank noise. Each gap between neighbours in the paper's order is tested
    one-sided at ALPHA, paired by seed (``bench.report.verdicts``): the order holds when every
    gap is above zero beyond its test, fails when one is below zero beyond it, and is undecided
    otherwise (an order claims no effect size, so there is no power to state).

    With a ``margin`` claim (an attack card's ``[claims.margin]``) each row also states the
    power of that claim's test in the band; an undecided row without that power reads
    "undecided (no power)".
    """
    rows = []
    groups = _in_scale_order(df).groupby([C.SCALE, C.MODEL, C.BUDGET], sort=False)
    for (scale, model, budget), g in groups:
        present = [a for a in order if a in set(g[C.ATTACK])]
        if len(present) < 2:
            continue
        means = g.groupby(C.ATTACK)[
            [column(b) for column in (C.ums, C.hit, C.nm_hit) for b in bands]
        ].mean()
        for band in bands:
            per_seed = {
                a: dict(zip(part[C.SEED].astype(int), 100 * part[C.ums(band)]))
                for a, part in g.groupby(C.ATTACK)
            }
            signal = (means.loc[present, C.hit(band)] > means.loc[present, C.nm_hit(band)]).any()
            gaps = [
                (a, b, contrast(per_seed[a], per_seed[b], 1.0, PAIRED))
                for a, b in zip(present, present[1:], strict=False)
            ]
            verdict = _verdict([c for _, _, c in gaps]) if signal else "no signal above chance"
            power = {}
            if margin is not None and margin.attack in present:
                check = _margin_check(g, margin, band)
                if check is not None:
                    test = check.test
                    power = {
                        f"{margin.factor:g}× claim: power": (
                            f"{test.power:.2f}" if test.verdict.powered else test.reason
                        ),
                    }
                    # A decided order stands: its own test rejected. Only an undecided one is
                    # qualified by the margin test's lack of power.
                    if verdict == "undecided" and not test.verdict.powered:
                        verdict = test.verdict.value
            ranked = rank({a: per_seed[a] for a in present}, PAIRED)
            rows.append(
                {
                    "N_G": budget,
                    "scale": scale,
                    "model": model,
                    "band": band,
                    "measured (mean UMS %)": ranked.text(
                        {a: f"{a} {v:.2f}" for a, v in ranked.order}
                    ),
                    f"gaps in the paper's order (one-sided p, α {ALPHA:g})": "; ".join(
                        f"{a} − {b}: {c.mean:+.2f} (p {_p_text(c)})" for a, b, c in gaps
                    ),
                    **power,
                    "paper's order holds": verdict,
                }
            )
    return pd.DataFrame(rows)


def _p_text(c: Contrast) -> str:
    """The p of the gap's own direction (one seed: no test)."""
    if c.seeds < 2:
        return "one seed"
    return f"{c.p_above() if c.mean > 0 else c.p_below():.3f}"


def _verdict(gaps: list[Contrast]) -> str:
    """Holds only for a strict order every gap of which its test confirms; fails when a test
    confirms a reversal; undecided otherwise."""
    if any(c.seeds < 2 for c in gaps):
        return "undecided (one seed)"
    if all(c.mean > 0 and c.p_above() < ALPHA for c in gaps):
        return Verdict.HOLDS.value
    if any(c.p_below() < ALPHA for c in gaps):
        return Verdict.FAILS.value
    return "undecided"


def _margin_check(g: pd.DataFrame, margin: MarginClaim, band: str) -> MarginTest | None:
    """The margin claim judged on distinct members (UMS × N_G) of one band less chance (the
    band's non-member hit rate × the members), per seed, as the answer table judges it."""
    members = g[C.MEMBERS]
    found = g[C.ums(band)] * g[C.BUDGET] - g[C.nm_hit(band)] * members
    counts = {
        a: dict(zip(g.loc[part.index, C.SEED].astype(int), found[part.index]))
        for a, part in g.groupby(C.ATTACK)
    }
    bases = {b: counts[b] for b in margin.baselines if b in counts}
    if not bases:
        return None
    chance = float((g[C.nm_hit(band)] * members)[g[C.ATTACK] == margin.attack].mean())
    ceiling = float(members.iloc[0]) - chance
    return judge_margin(counts[margin.attack], bases, margin.factor, ceiling, PAIRED)


def conditional_table(df: pd.DataFrame, attack: str, than: str, verdict: str) -> pd.DataFrame:
    """Per scale and band: ``attack`` (on its conditional model) against ``than`` on the plain
    models of the same subset (no duplicated members), as an attack card's
    ``[claims.leaks_more]`` states."""
    text = df[df[C.ATTACK] == attack]
    uncond = df[(df[C.ATTACK] == than) & ~df[C.DUPLICATED]]
    rows = []
    for scale in sorted(text[C.SCALE].unique(), key=scale_order):
        t, u = text[text[C.SCALE] == scale], uncond[uncond[C.SCALE] == scale]
        if u.empty:
            continue
        for band in BANDS:
            tv, uv = t[C.ums(band)].mean() * 100, u[C.ums(band)].mean() * 100
            rows.append(
                {
                    "scale": scale,
                    "band": band,
                    attack: f"{tv:.2f} ({', '.join(sorted(set(t[C.MODEL])))})",
                    than: f"{uv:.2f} ({', '.join(sorted(set(u[C.MODEL])))})",
                    verdict: "yes" if tv > uv else "no",
                }
            )
    return pd.DataFrame(rows)


def floors_table(specs: list[dict]) -> pd.DataFrame:
    """What CI holds each attack to, and whether each of its mutations falls below it."""
    rows = []
    for spec in specs:
        mutations = spec.get("mutations", {})
        rows.append(
            {
                "attack": spec["attack"],
                "model": spec["model"],
                "N_G": spec["budget"],
                "CI seed": spec["ci_seed"],
                "floored": ", ".join(
                    f"{name} ≥ {m['floor']:.3g}" for name, m in spec["metrics"].items()
                ),
                "mutations (caught by the floors?)": "; ".join(
                    f"{name}: {'caught' if m['caught'] else 'NOT caught'}"
                    for name, m in mutations.items()
                )
                or "-",
            }
        )
    return pd.DataFrame(rows)
