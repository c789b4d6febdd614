"""How a membership score is judged: thresholds fitted on one split, applied to a disjoint one.

CopyMark's protocol (Wen et al. 2024): a threshold fitted on the data it is judged on flatters the
attack, so per split seed the members and the held-out non-members are each cut into two halves;
the threshold for a target FPR is fitted on the first half's non-members and applied to the second
half, where AUC (threshold-free), TPR and the realised FPR are measured. The score's direction is
fitted on the first half too (members above non-members, or below): on the zoo's x₀-predicting
models some scores run the other way than on the papers' ε-predicting ones, and an attacker with a
labelled split learns that, as it learns the threshold. The headline is the mean
over the split seeds; its interval is the 2.5–97.5% range of bootstrap replicates (the second
half's members and non-members resampled), pooled over the seeds, so it holds both the split's
and the sample's variation. AUC 0.5 is chance.

A TPR at FPR f needs at least 1/f non-members in the fitting half (otherwise the threshold is the
largest non-member score and its FPR is not f); where there are fewer it is reported as not
supported, with the count. Per duplicate tier of a ladder or canary model, TPR is measured on the
tier's members in the second half against the first half's threshold and direction (a tier of 8
members leaves 4 or so per split; the mean over the seeds covers every member).
"""

from __future__ import annotations

import numpy as np

# Suite's choice: three split seeds and 1,000 bootstrap replicates per split.
SPLIT_SEEDS = (0, 1, 2)
BOOTSTRAP = 1000
FPRS = (0.01, 0.001)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(member score > non-member score), ties counted half (the Mann–Whitney AUC)."""
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (upto - below)).sum() / (len(pos) * len(neg)))


def supports(n_negatives: int, fpr: float) -> bool:
    return n_negatives * fpr >= 1 - 1e-9


def threshold(neg: np.ndarray, fpr: float) -> float:
    """The score above which at most ``fpr`` of ``neg`` falls: the (⌊f·n⌋+1)-th largest."""
    k = int(np.floor(fpr * len(neg) + 1e-9))
    return float(np.sort(neg)[::-1][min(k, len(neg) - 1)])


def direction(members: np.ndarray, nonmembers: np.ndarray) -> int:
    """+1 where members score above non-members on this split (AUC ≥ 0.5), else −1."""
    return 1 if auc(members, nonmembers) >= 0.5 else -1


def halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def evaluate(
    members: np.ndarray,
    nonmembers: np.ndarray,
    seeds: tuple[int, ...] = SPLIT_SEEDS,
    fprs: tuple[float, ...] = FPRS,
    boot: int = BOOTSTRAP,
) -> dict:
    """Every metric of one score over the split seeds, with pooled bootstrap intervals."""
    per_seed, replicates = [], {"auc": []} | {f"tpr@{f:g}": [] for f in fprs}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        m_fit, m_eval = halves(len(members), rng)
        n_fit, n_eval = halves(len(nonmembers), rng)
        sign = direction(members[m_fit], nonmembers[n_fit])
        pos, neg = sign * members[m_eval], sign * nonmembers[n_eval]
        row = {"seed": seed, "direction": sign, "auc": auc(pos, neg)}
        thresholds = {}
        for f in fprs:
            if supports(len(n_fit), f):
                thresholds[f] = threshold(sign * nonmembers[n_fit], f)
                row[f"tpr@{f:g}"] = float((pos > thresholds[f]).mean())
                row[f"fpr@{f:g}"] = float((neg > thresholds[f]).mean())
        per_seed.append(row)
        for _ in range(boot):
            p = pos[rng.integers(0, len(pos), len(pos))]
            n = neg[rng.integers(0, len(neg), len(neg))]
            replicates["auc"].append(auc(p, n))
            for f, thr in thresholds.items():
                replicates[f"tpr@{f:g}"].append(float((p > thr).mean()))
    out = {
        "n_members": int(len(members)),
        "n_nonmembers": int(len(nonmembers)),
        "fit_negatives": int(len(nonmembers) // 2),
        "per_seed": per_seed,
    }
    for key, values in replicates.items():
        if not values:
            out[key] = None
            continue
        mean = float(np.mean([row[key] for row in per_seed]))
        lo, hi = np.percentile(values, [2.5, 97.5])
        out[key] = {"mean": mean, "lo": float(lo), "hi": float(hi)}
    return out


def tier_rates(
    members: np.ndarray,
    counts: np.ndarray,
    nonmembers: np.ndarray,
    fpr: float = FPRS[0],
    seeds: tuple[int, ...] = SPLIT_SEEDS,
) -> dict[str, dict]:
    """TPR at ``fpr`` per duplicate tier (×count): the tier's members in each split's second half
    against the first half's threshold and direction, pooled over the split seeds."""
    hits: dict[int, int] = {}
    seen: dict[int, int] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        m_fit, m_eval = halves(len(members), rng)  # the same draws as ``evaluate``
        n_fit, _ = halves(len(nonmembers), rng)
        sign = direction(members[m_fit], nonmembers[n_fit])
        flagged = sign * members[m_eval] > threshold(sign * nonmembers[n_fit], fpr)
        for c, hit in zip(counts[m_eval].tolist(), flagged.tolist()):
            hits[c] = hits.get(c, 0) + int(hit)
            seen[c] = seen.get(c, 0) + 1
    return {
        f"x{c}": {"members": int((counts == c).sum()), "tpr": hits[c] / seen[c]}
        for c in sorted(seen, reverse=True)
    }
