"""reports/performance.md from one `bench perf` run (``bench.runner.perf.measure``).

Every ratio is measured in the run that writes it, on the machine it names, so a ratio and the
two timings behind it always come from the same minutes.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from bench.utils.writefaults import human_bytes

FILTER_GOAL = 0.01  # a candidate filter should cost at most this share of generating its outputs
TRAIN_GOAL = 0.95  # the zoo's training step should keep this share of a bare loop's throughput
FLAT = 1.25  # memory is flat when the largest N_G needs at most this much more than the middle one
SLACK = 2**20  # plus this many bytes: a few batches' bookkeeping, not outputs


def _filter_rows(where: str, filters: dict[str, Any]) -> list[list[str]]:
    """Each attack's candidate filter against generating the outputs it filters, at the N_G
    the run timed it at, with the searches that stopped at their budget."""
    rows = []
    for attack, f in filters.items():
        share = f["filter_s"] / f["generate_s"]
        rows.append(
            [
                where,
                f"{attack}'s candidate filter vs generating the outputs it filters (N_G "
                f"{f['outputs']:,}, {f['share']:.0%} of them copies in groups of {f['group']})",
                f"{f['filter_s']:.3g} s vs {f['generate_s']:.3g} s",
                f"**{share:.2%}** of the generation time (goal ≤ {FILTER_GOAL:.0%}: "
                f"{'met' if share <= FILTER_GOAL else 'not met'}; {f['cliques']} cliques, "
                f"{f['searches_capped']} searches stopped at the budget)",
            ]
        )
    return rows


def _ratio_rows(name: str, m: dict[str, Any], batch: int) -> list[list[str]]:
    where, steps = f"{name} ({m['resolution']} px)", m["steps"]
    loop, guided, train, scoring = m["loop"], m["guided"], m["train"], m["scoring"]
    return (
        [
            [
                where,
                f"sampling loop vs bare UNet forward (batch {batch}, {steps} steps)",
                f"{loop['loop_s']:.3g} s vs {loop['bare_s']:.3g} s",
                f"**{loop['ratio']:.3f}** of bare throughput ({loop['image_steps_per_s']:,.0f} "
                "image-steps/s)",
            ],
            [
                where,
                f"zoo training step vs bare diffusers loop (batch {train['batch']})",
                f"{train['zoo_s']:.3g} s vs {train['bare_s']:.3g} s",
                f"**{train['ratio']:.3f}** of bare throughput (goal ≥ {TRAIN_GOAL}: "
                f"{'met' if train['ratio'] >= TRAIN_GOAL else 'not met'}; "
                f"{train['images_per_s']:,.0f} images/s)",
            ],
            [
                where,
                "scoring vs generating the outputs it scores",
                f"{scoring['score_s']:.3g} s vs {scoring['generate_s']:.3g} s",
                f"**{scoring['score_s'] / scoring['generate_s']:.4f}×** the generation time",
            ],
        ]
        + _filter_rows(where, m.get("filters", {}))
        + _sscd_rows(where, m.get("sscd", {}))
        + [
            [
                where,
                f"guided ({attack}: classifier width {g['width']}, {g['classes']} classes, "
                f"{'time-dependent' if g['time_dependent'] else 'time-independent'}, "
                f"λ = {g['scale']:g}) vs unguided sampling (batch {batch}, {steps} steps)",
                f"{g['guided_s']:.3g} s vs {g['unguided_s']:.3g} s",
                f"**{g['ratio']:.2f}×** the unguided step's time",
            ]
            for attack, g in guided.items()
        ]
    )


def _sscd_rows(where: str, sscd: dict[str, Any]) -> list[list[str]]:
    """SSCD descriptors per image against generating one output: what SSCD adds to a record."""
    rows = []
    for spec, t in sscd.items():
        what = f"{spec} descriptors (upsampled to 288 px) vs generating an output"
        per_image, per_output = t["seconds_per_image"], t["generate_s_per_output"]
        if per_image is None:
            rows.append([where, what, "not installed", "-"])
            continue
        rows.append(
            [
                where,
                what,
                f"{per_image:.3g} s vs {per_output:.3g} s",
                f"**{per_image / per_output:.3f}×** the generation time",
            ]
        )
    return rows


def _slice_rows(name: str, m: dict[str, Any]) -> list[list[str]]:
    """One row per model: images/s by images per UNet call, the card's choice in bold."""
    slices = {int(n): v for n, v in m["slices"].items()}  # JSON round trips make keys strings
    whole = slices[max(slices)]
    chosen = m["unet_batch"] or max(slices)
    cells = [f"**{v:,.0f}**" if n == chosen else f"{v:,.0f}" for n, v in sorted(slices.items())]
    best = max(slices, key=slices.__getitem__)
    return [[f"{name} ({m['resolution']} px)", *cells, f"{slices[best] / whole:.2f}× at {best}"]]


def _memory_rows(name: str, m: dict[str, Any]) -> list[list[str]]:
    rows = []
    for kind, peaks in m["memory"].items():
        budgets = sorted(peaks)
        middle, last = peaks[budgets[len(budgets) // 2]], peaks[budgets[-1]]
        flat = last <= FLAT * middle + SLACK
        rows.append(
            [f"{name} ({m['resolution']} px)", kind]
            + [human_bytes(peaks[n]) for n in budgets]
            + ["flat" if flat else "**grows**"]
        )
    return rows


def performance_markdown(result: dict[str, Any], header: str) -> str:
    """The report: ``header`` (machine, threads, commit) then every table."""
    settings = result["settings"]
    batch = settings["batch"]
    rows, memory, slices = [], [], []
    models = []
    for name, m in result["models"].items():
        rows += _ratio_rows(name, m, batch)
        slices += _slice_rows(name, m)
        memory += _memory_rows(name, m)
        models.append(f"- {m['model']}.")
    budgets = [f"N_G {n:,}" for n in settings["memory_budgets"]]
    sizes = {int(n) for m in result["models"].values() for n in m["slices"]}
    pool = result["pool"]
    saved = 1 - pool["pooled"] / pool["before"]
    return (
        f"# Performance\n\n{header}\n\n"
        "Every ratio below was measured in this one run (`python -m bench perf`), both sides "
        f"timed alternately after a warm-up, each keeping its fastest of {settings['repeats']} "
        "repeat(s).\n\n"
        + "\n".join(models)
        + "\n\n## Throughput ratios\n\n"
        + tabulate(rows, headers=["", "workload", "seconds", "ratio"], tablefmt="github")
        + f"\n\nScoring: {settings['outputs']:,} outputs against {settings['members']:,} members "
        "and 1,000 non-members (exact faiss); generation: the sampling loop's seconds per output "
        "times as many outputs. A candidate filter runs over random outputs with planted groups "
        "of near-duplicate copies of memorised images, as its row says (the shape on which an "
        "exact clique search once ran without end); the maximum-clique search stops at its "
        "budget (`bench/attacks/cliques.py`), and its row counts the searches that did. Each "
        "guided step uses an untrained classifier of the shape its "
        "attack declares at its card's defaults for the model's profile (its cost does not "
        "depend on the weights). The bare training loop is forward, MSE, backward and AdamW on "
        "the same architecture and batch; the zoo's step adds batch selection, warm-up, "
        "gradient clipping and the EMA update. The sampling loop and its bare forwards see "
        "slices of the card's `unet_batch` where it sets one.\n\n"
        "## UNet throughput by images per call\n\n"
        + tabulate(
            slices,
            headers=["", *(f"{n} / call" for n in sorted(sizes)), "best vs whole batch"],
            tablefmt="github",
        )
        + f"\n\nImages per second of bare UNet forwards over one batch of {batch} split into "
        "slices of each size (one timestep, fastest of the repeats); bold is the card's "
        "`[scheduler] unet_batch` (the whole batch where it sets none). Smaller slices fit the "
        "caches, larger ones make fewer calls; the card fixes the size because slices round "
        'differently (docs/reference.md, "Slices of a batch").\n\n'
        "## Peak memory against N_G\n\n"
        + tabulate(memory, headers=["", "step", *budgets, "verdict"], tablefmt="github")
        + f"\n\nMeasured as the {result['memory_method']} of each step (`bench/runner/memory.py` "
        f"says why). Scoring: `score` against {settings['memory_members']:,} members, then a "
        "ladder model's per-tier scores (as a record of a ladder or canary model is scored); "
        "streaming: unguided "
        "generation into a run store and the sample pool, one sampling step (the steps change "
        "the time, not the memory). Scoring converts outputs to vectors 2,048 at a time, so "
        "it may grow up to that N_G and must not beyond; flat means the largest N_G needs at "
        f"most {FLAT}× the middle one (plus {human_bytes(SLACK)}).\n\n"
        "## The sample pool on a grid\n\n"
        f"One model ({settings['models'][0]}) × seeds {', '.join(map(str, pool['seeds']))} × "
        f"{', '.join(pool['attacks'])} at N_G {pool['budget']:,} ({pool['cells']} cells), "
        "counted from the attacks' declared draws (`Attack.draws`), not sampled:\n\n"
        + tabulate(
            [
                ["every cell alone (what the records' costs charge, plus held-out checks)"]
                + [f"{pool['alone']:,}"],
                ["before the pool (preparation cached per seed and size)", f"{pool['before']:,}"],
                ["with the pool (each unguided batch once)", f"{pool['pooled']:,}"],
            ],
            headers=["UNet evaluations run", "count"],
            tablefmt="github",
        )
        + f"\n\nThe pool saves **{100 * saved:.1f}%** of the grid's UNet evaluations before it "
        f"({100 * (1 - pool['pooled'] / pool['alone']):.1f}% of every cell alone).\n"
    )
