"""`bench perf` on the tiny world: every ratio in one report, flat memory, the pool's count."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cards import attack_card, model_card
from bench.cli import main
from bench.runner import memory
from bench.runner.poolsaving import grid_saving
from bench.runner.throughput import perf_model
from bench.utils.paths import reports_dir
from tests.conftest import FAST_SIDE, cell_record
from tests.test_pool import STEPS, evaluations  # noqa: F401 - the fixture

TINY_GRID = {"side": FAST_SIDE, "side-ti": FAST_SIDE}


def test_perf_quick_reports_every_ratio_in_one_run(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each model at its own resolution: the trained 8 px one, and a 16 px card without a
    checkpoint, timed as its architecture (as a paper-profile card is on a CPU)."""
    from tests.conftest import model_card_text

    text = model_card_text("tiny-16", "8").replace("resolution = 8", "resolution = 16")
    (trained / "models" / "tiny-16.toml").write_text(text)
    out = tmp_path / "performance.md"
    argv = ["perf", "--quick", "--models", "tiny-8,tiny-16", "--out", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    lines = text.splitlines()
    side = attack_card("side").params("cpu")
    shape = f"classifier width {side['clf_width']}, {side['n_clusters']} classes"
    for where in ("tiny-8 (8 px)", "tiny-16 (16 px)"):
        for workload in (
            "sampling loop vs bare UNet forward",
            f"guided (side: {shape}, time-dependent",
            f"guided (side-ti: {shape}, time-independent",
            "zoo training step vs bare diffusers loop",
            "scoring vs generating the outputs it scores",
            "carlini's candidate filter vs generating the outputs it filters (N_G 1,024",
        ):
            assert any(line.startswith(f"| {where}") and workload in line for line in lines)
        # three ratios, one per guided attack (side, side-ti), one per SSCD model (its descriptors
        # against generation, or "not installed"), a slices row, two memory rows, carlini's filter
        assert sum(line.startswith(f"| {where}") for line in lines) == 3 + 2 + 2 + 1 + 2 + 1
    # --quick's batch of 16: slices of 8 and 16 (the whole batch, bold: no card sets unet_batch)
    assert "## UNet throughput by images per call" in text and "8 / call" in text
    (row,) = [line for line in lines if line.startswith("| tiny-8 (8 px)") and "× at " in line]
    assert row.split("|")[3].strip().startswith("**")  # the 16 column
    assert "`tiny-8` (8 px, trained)" in text and "`tiny-16`'s architecture at 16 px" in text
    assert "| N_G 64 " in text and "N_G 1,024" in text
    assert "The pool saves **" in text and "carlini, side, side-ti" in text
    assert not (reports_dir() / "performance.md").exists()  # a smoke check publishes nothing


def test_the_pools_count_is_what_a_tiny_grid_runs(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    evaluations: list[int],  # noqa: F811 - the fixture
) -> None:
    """The counted saving (from the attacks' declared draws) against the UNet evaluations a
    grid of carlini, side and side-ti over two seeds actually runs, in a fresh pool. At N_G 32 =
    N_syn, carlini at seed 1 is SIDE's synthetic set of seed 0."""
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    records = []
    for seed in (0, 1):
        for attack in ("carlini", "side", "side-ti"):
            overrides = TINY_GRID.get(attack, {"clique_k": 2})
            records.append(cell_record(attack, "8", seed=seed, budget=32, overrides=overrides))
    counted = grid_saving(model_card("tiny-8"), (0, 1), budget=32, overrides=TINY_GRID)
    assert counted.cells == 6 and counted.attacks == ("carlini", "side", "side-ti")
    assert sum(evaluations) == counted.pooled
    # Alone: what the records charge, plus the 8-image held-out check of each SIDE cell.
    charged = sum(r["cost"]["unet_evaluations"] for r in records)
    assert counted.alone == charged + 4 * 8 * STEPS
    assert counted.pooled < counted.before < counted.alone


@pytest.mark.parametrize("kind", ["scoring", "streaming"])
def test_peak_memory_is_flat_in_n_g(trained: Path, kind: str) -> None:
    """tracemalloc sees every numpy array, so an implementation that held all N_G outputs (or
    their float vectors, or each chunk's neighbour table) at once would grow fourfold from
    2,048 to 8,192 here (scoring did, by 400 bytes an output, until its nearest distances were
    copied out of each chunk's table)."""
    model = perf_model(model_card("tiny-8"))
    peaks = {}
    for n in (2_048, 8_192):
        if kind == "scoring":
            peaks[n], method = memory.scoring_memory(n, 64, 8)
        else:
            peaks[n], method = memory.streaming_memory(model, n)
        assert method == memory.METHOD
    assert peaks[8_192] <= 1.25 * peaks[2_048], peaks


def test_each_model_is_timed_at_its_own_cards_sampling_steps(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``steps``, every model's loop and guided step run at its own card's
    ``sampling_steps``, not the first card's (a mixed ``--models`` timed the second model at
    the first one's step count); the timing functions are replaced by recorders."""
    from bench.runner import perf
    from tests.conftest import model_card_text

    text = model_card_text("tiny-8b", "8").replace("sampling_steps = 4", "sampling_steps = 3")
    (trained / "models" / "tiny-8b.toml").write_text(text)
    seen: dict[str, list[int]] = {"loop": [], "guided": []}

    def loop(model: object, batch: int, steps: int, repeats: int) -> dict[str, float]:
        seen["loop"].append(steps)
        return {"seconds_per_output": 1.0}

    def guided(model: object, batch: int, steps: int, repeats: int, g: object) -> dict:
        seen["guided"].append(steps)
        return {}

    monkeypatch.setattr(perf, "loop_vs_forward", loop)
    monkeypatch.setattr(perf, "guided_vs_unguided", guided)
    monkeypatch.setattr(perf, "forward_by_unet_batch", lambda *a: {})
    monkeypatch.setattr(perf, "train_vs_bare", lambda *a: {})
    monkeypatch.setattr(perf, "time_scoring", lambda *a: 0.0)
    monkeypatch.setattr(perf, "time_filter", lambda *a: {})
    monkeypatch.setattr(perf, "scoring_memory", lambda *a: (0, "m"))
    monkeypatch.setattr(perf, "streaming_memory", lambda *a: (0, "m"))
    monkeypatch.setattr(perf, "grid_saving", lambda *a: grid_saving(model_card("tiny-8"), (0,)))
    settings = perf.PerfSettings(models=("tiny-8", "tiny-8b"), memory_budgets=(64,))
    result = perf.measure(settings)
    assert [m["steps"] for m in result["models"].values()] == [4, 3]
    assert seen["loop"] == [4, 3] and seen["guided"] == [4, 4, 3, 3]
    pinned = perf.measure(
        perf.PerfSettings(models=("tiny-8", "tiny-8b"), steps=2, memory_budgets=(64,))
    )
    assert [m["steps"] for m in pinned["models"].values()] == [2, 2]


def test_the_filter_row_holds_it_to_one_percent_of_generation() -> None:
    """The clique filter must keep up with generation at the largest N_G (issue 36 §2): its row
    gives the share and whether the goal is met, and counts the searches the budget stopped."""
    from bench.report.performance import _filter_rows

    f = {"outputs": 20_480, "share": 0.1, "group": 100, "cliques": 20, "searches_capped": 3}
    (fast,) = _filter_rows("m", {"carlini": {**f, "filter_s": 5.0, "generate_s": 1000.0}})
    assert fast[3].startswith("**0.50%** of the generation time (goal ≤ 1%: met;")
    assert "3 searches stopped at the budget" in fast[3] and "N_G 20,480" in fast[1]
    (slow,) = _filter_rows("m", {"carlini": {**f, "filter_s": 20.0, "generate_s": 1000.0}})
    assert "**2.00%**" in slow[3] and "not met" in slow[3]


def test_a_memory_budget_above_the_limit_is_one_line(capsys: pytest.CaptureFixture) -> None:
    """99,999,999,999,999 outputs' memory was allocated before (issue #33); now it is refused
    before anything is timed, as `run --budget` above the limit is."""
    from tests.test_faults import one_error_line

    assert main(["perf", "--quick", "--memory-budgets", "512,99999999999999"]) == 2
    assert "above the suite's limit of 51,200" in one_error_line(capsys)
