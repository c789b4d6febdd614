"""Text-conditional's per_caption against memory (issue #33 §3): `--set per_caption=1e12` was
killed by the kernel's OOM killer at 23 GB. The prompts never outgrow the budget, the clique filter
tests candidate pairs a block at a time, and a setting whose worst case needs more memory than the
machine has is one line, exit 2, before anything is sampled or written."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bench.attacks import cliques
from bench.attacks.cliques import clique_filter_bytes, find_cliques
from bench.attacks.text_conditional import TextConditional
from bench.cli import main
from bench.utils.arrays import memory_bytes
from tests.test_user_errors import one_error_line, written

RUN = ["run", "--attack", "text-conditional", "--scale", "8"]


def test_prompts_hold_one_entry_per_output_whatever_per_caption() -> None:
    attack = TextConditional(edge_threshold=0.08, per_caption=10**12, clique_k=2, tile_grid=4)
    captions = ("b", "a", "a")
    tracemalloc.start()
    prompts = attack.prompts(captions, 512)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert prompts == ["a"] * 512 and peak < 1 << 20
    small = TextConditional(edge_threshold=0.08, per_caption=2, clique_k=2, tile_grid=4)
    assert small.prompts(captions, 5) == ["a", "a", "b", "b", "a"]


def test_a_per_caption_no_machine_holds_is_refused_before_sampling(
    trained: Path, capsys: pytest.CaptureFixture
) -> None:
    """10^7 outputs of one caption: the clique filter's worst-case graph is petabytes."""
    before = written()
    argv = [*RUN, "--budget", "10000000", "--force", "--set", "per_caption=1e12"]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "text-conditional at N_G 10,000,000" in line and "per_caption=1000000000000" in line
    assert "more than this machine's" in line
    assert written() == before


def test_the_default_settings_fit(world: Path) -> None:
    attack = TextConditional(edge_threshold=0.08, per_caption=500, clique_k=10, tile_grid=4)
    assert attack.peak_memory(5_120, 64) < min(memory_bytes(), 4 << 30)


def test_the_estimate_covers_a_measured_complete_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every output a copy of one image: every pair an edge, the filter's worst case. Small blocks
    make the edges, not the block, dominate the peak, so EDGE_BYTES is what is tested."""
    monkeypatch.setattr(cliques, "PAIR_BLOCK_VALUES", 1 << 12)
    monkeypatch.setattr(cliques, "BLOCK_BYTES", 10 << 12)
    n, res = 240, 8
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1, res, res, 3)).astype(np.int16)
    images = np.clip(base + rng.integers(-2, 3, (n, res, res, 3)), 0, 255).astype(np.uint8)
    tracemalloc.start()
    found = find_cliques(images, 0.08, 2, 4).cliques
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(found) == 1 and len(found[0].members) == n  # the complete graph was built
    assert peak <= clique_filter_bytes(n, res) < 3 * peak


def test_blocks_change_no_clique(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (3, 8, 8, 3)).astype(np.int16)
    images = np.clip(
        base[rng.integers(0, 3, 60)] + rng.integers(-4, 5, (60, 8, 8, 3)), 0, 255
    ).astype(np.uint8)
    whole = find_cliques(images, 0.08, 2, 4).cliques
    monkeypatch.setattr(cliques, "PAIR_BLOCK_VALUES", 192 * 7)  # 7 pairs a block
    assert find_cliques(images, 0.08, 2, 4).cliques == whole and len(whole) == 3
