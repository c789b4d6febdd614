"""The sample pool: every unguided draw reads and fills it, with the bytes it would sample alone.

Carlini at seed s + 1 and SIDE's synthetic set at seed s are the same batches of one model
(generator (s + 1, i)); the second cell to need them must run no UNet evaluation for them, and
both must score exactly what they scored before the pool existed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from bench.attacks.store import RunStore
from bench.cards import model_card
from bench.utils.paths import bench_home
from bench.zoo import denoiser as denoiser_module
from bench.zoo.build import build_sampler
from bench.zoo.load import load_denoiser
from bench.zoo.pool import ModelPool, SamplePool
from bench.zoo.sampling import BATCH, sample
from tests.conftest import FAST_SIDE, cell_record

STEPS = 4  # the tiny cards' sampling steps


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Images the UNet is evaluated on, per call, from here on."""
    counted: list[int] = []
    call = denoiser_module.Denoiser.__call__

    def counting(
        self: denoiser_module.Denoiser,
        x_t: torch.Tensor,
        t: torch.Tensor | int,
        captions: list[str] | None = None,
    ) -> torch.Tensor:
        counted.append(len(x_t))
        return call(self, x_t, t, captions)

    monkeypatch.setattr(denoiser_module.Denoiser, "__call__", counting)
    return counted


def _outputs(record: dict) -> np.ndarray:
    return RunStore(bench_home() / record["outputs"]).images()


def _carlini_then_side(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    """Carlini at seed 1 (N_G 32), then SIDE at seed 0 (N_syn 32), in a fresh BENCH_HOME."""
    monkeypatch.setenv("BENCH_HOME", str(home))
    carlini = cell_record("carlini", "8", seed=1, budget=32, overrides={"clique_k": 2})
    side = cell_record("side", "8", seed=0, budget=16, overrides=FAST_SIDE)
    return carlini, side


def test_carlini_and_side_score_the_same_bytes_with_and_without_the_pool(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    evaluations: list[int],
) -> None:
    from bench.runner import cell

    with monkeypatch.context() as off:  # no pool: every draw sampled for its cell alone
        off.setattr(cell, "ModelPool", lambda *args: None)
        alone_carlini, alone_side = _carlini_then_side(tmp_path / "alone", off)
        alone_outputs = [_outputs(alone_carlini), _outputs(alone_side)]
        assert not (tmp_path / "alone" / "pool").exists()
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "pooled"))
    carlini = cell_record("carlini", "8", seed=1, budget=32, overrides={"clique_k": 2})
    # The pool now holds carlini's batch: SIDE's synthetic set of seed 0 is that batch.
    (batch,) = (tmp_path / "pooled" / "pool").rglob("seed1/batch-00000-n32.npz")
    assert np.array_equal(np.load(batch)["images"], _outputs(carlini))
    evaluations.clear()
    side = cell_record("side", "8", seed=0, budget=16, overrides=FAST_SIDE)
    # SIDE ran its 16 guided outputs and its 8-image held-out check (seed 2), not its synthetic set.
    assert sum(evaluations) == (16 + 8) * STEPS
    for alone, pooled in ((alone_carlini, carlini), (alone_side, side)):
        for key in ("metrics", "cost", "info", "candidates", "canaries"):
            assert pooled[key] == alone[key], key
    assert np.array_equal(_outputs(carlini), alone_outputs[0])
    assert np.array_equal(_outputs(side), alone_outputs[1])
    # The cost is what SIDE pays alone; the pool field says what it reused and what it ran.
    assert side["cost"]["unet_evaluations"] == (32 + 16) * STEPS
    assert side["pool"] == {
        "reused": [[1, 0, 0]],
        "adopted": [],
        "unet_evaluations_run": 16 * STEPS,
    }
    assert carlini["pool"] == {"reused": [], "adopted": [], "unet_evaluations_run": 32 * STEPS}
    assert alone_side["pool"] == {"reused": [], "adopted": [], "unet_evaluations_run": 48 * STEPS}
    assert side["runtime"] == {"compiled": False, "threads": 1, "unet_batch": None}


def test_a_second_reader_runs_no_unet_evaluation(trained: Path, evaluations: list[int]) -> None:
    first = cell_record("carlini", "8", seed=4, budget=32, overrides={"clique_k": 2})
    assert sum(evaluations) == 32 * STEPS
    evaluations.clear()
    # Another cell of the same draw (another clique_k is another output folder): all pooled.
    second = cell_record("carlini", "8", seed=4, budget=32, overrides={"clique_k": 3})
    assert evaluations == []
    assert second["outputs"] != first["outputs"]
    assert np.array_equal(_outputs(second), _outputs(first))
    assert second["cost"] == first["cost"]
    assert second["pool"] == {"reused": [[4, 0, 0]], "adopted": [], "unet_evaluations_run": 0}


def test_a_resumed_cell_does_not_count_its_own_batches_as_reused(trained: Path) -> None:
    first = cell_record("carlini", "8", seed=3, budget=300, overrides={"clique_k": 2})
    (bench_home() / first["outputs"] / "shard-00001.npz").unlink()  # killed before its write
    second = cell_record("carlini", "8", seed=3, budget=300, overrides={"clique_k": 2})
    assert second["pool"] == {"reused": [], "adopted": [], "unet_evaluations_run": 300 * STEPS}
    assert second["metrics"] == first["metrics"]


def test_the_zoo_measures_memorisation_on_pooled_batches(trained: Path) -> None:
    """tiny-8's card measures 8 samples at seed 1: carlini at seed 1, N_G 8, reuses them."""
    record = cell_record("carlini", "8", seed=1, budget=8, overrides={"clique_k": 2})
    assert record["pool"] == {"reused": [[1, 0, 0]], "adopted": [], "unet_evaluations_run": 0}


def test_a_short_batch_is_keyed_by_its_length(trained: Path, evaluations: list[int]) -> None:
    """A batch of 8 is not the first 8 of a batch of 16 (DDPM draws each step's noise over the
    whole batch, and batched kernels round by batch size), so the pool keys the length."""
    card = model_card("tiny-8")
    den = load_denoiser(card)
    ddpm = DDPMScheduler.from_config(build_sampler(card).config)
    pool = ModelPool("f" * 64, den).setting(den, ddpm, STEPS, card.resolution)

    def draw(n: int) -> np.ndarray:
        def sampler(batches: list[int]) -> object:
            return sample(den, ddpm, n, card.resolution, STEPS, 0, batches=batches)

        (drawn,) = pool.draw(n, 0, [0], sampler)
        assert not drawn.reused
        return drawn.images

    full, short = draw(16), draw(8)
    assert not np.array_equal(full[:8], short)
    assert np.array_equal(short, next(sample(den, ddpm, 8, card.resolution, STEPS, 0)))
    assert pool.path(0, 0, 8) != pool.path(0, 0, 16)
    assert sum(evaluations) == (16 + 8 + 8) * STEPS


def test_the_pool_key_names_everything_that_fixes_a_batch(trained: Path) -> None:
    card = model_card("tiny-8")
    den = load_denoiser(card)
    pools = ModelPool("a" * 64, den)
    base = pools.setting(den, build_sampler(card), STEPS, 8)
    ddpm = DDPMScheduler.from_config(build_sampler(card).config)
    others = [
        pools.setting(den, ddpm, STEPS, 8),
        pools.setting(den, build_sampler(card), STEPS + 1, 8),
        ModelPool("b" * 64, den).setting(den, build_sampler(card), STEPS, 8),
        SamplePool(bench_home() / "pool", "a" * 64, base.key["sampler"], STEPS, 8, BATCH, True),
    ]
    assert len({base.folder, *(p.folder for p in others)}) == 5
    # A view whose denoiser is not the one the pool was opened for is never served from it.
    assert pools.setting(load_denoiser(card), build_sampler(card), STEPS, 8) is None


def test_the_preflight_prices_only_the_batches_the_pool_lacks(trained: Path) -> None:
    from bench.zoo.load import verified_digest

    card = model_card("tiny-8")
    den = load_denoiser(card)
    pool = ModelPool(verified_digest(card), den).setting(den, build_sampler(card), STEPS, 8)
    image = 8 * 8 * 3
    assert pool.missing_bytes([(5, 300)]) == 300 * image  # a batch of 256 and one of 44
    cell_record("carlini", "8", seed=5, budget=300, overrides={"clique_k": 2})
    assert pool.missing_bytes([(5, 300)]) == 0
    # At 600 the second batch is 256 long, not the 44 the pool holds, and the third is new.
    assert pool.missing_bytes([(5, 600)]) == (600 - 256) * image


def test_the_pool_key_is_the_same_in_every_process() -> None:
    """A key hashed from set-ordered config (diffusers' ``_use_default_values``) changed with
    PYTHONHASHSEED, so no process found the batches another had pooled."""
    import os
    import subprocess
    import sys

    script = (
        "from diffusers import DDIMScheduler\n"
        "from pathlib import Path\n"
        "from bench.zoo.pool import sampling_pool\n"
        "s = DDIMScheduler(num_train_timesteps=1000, clip_sample=True, prediction_type='sample')\n"
        "print(sampling_pool(Path('p'), 'a' * 64, s, 50, 16, False).folder)\n"
    )
    folders = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(4)
    }
    assert len(folders) == 1, folders


def test_a_larger_run_guides_only_the_shards_its_smaller_run_lacks(
    trained: Path, evaluations: list[int]
) -> None:
    cell_record("side", "8", seed=0, budget=256, overrides=FAST_SIDE)  # one full shard
    evaluations.clear()
    larger = cell_record("side", "8", seed=0, budget=300, overrides=FAST_SIDE)
    # Synthetic set and held-out check come from the pool, the classifier from the cell's
    # preparation, shard 0 from the 256 run: only shard 1's 44 outputs are guided.
    assert sum(evaluations) == 44 * STEPS
    assert larger["pool"]["adopted"] == [[256, 0, 0]]
    assert larger["pool"]["unet_evaluations_run"] == 44 * STEPS
    fresh = cell_record("side", "8", seed=0, budget=300, overrides=FAST_SIDE, fresh=True)
    assert fresh["pool"]["adopted"] == []
    for key in ("metrics", "cost", "info", "canaries"):
        assert larger[key] == fresh[key], key
    assert np.array_equal(_outputs(larger), _outputs(fresh))


def _donor_shard(folder: Path, labels: np.ndarray) -> None:
    RunStore(folder).write_shard(
        0, np.zeros((len(labels), 8, 8, 3), np.uint8), unet=4 * len(labels), labels=labels
    )


def test_a_shard_is_adopted_only_with_the_same_length_and_labels(tmp_path: Path) -> None:
    labels = np.arange(6) % 3
    _donor_shard(tmp_path / "seed0-n6", labels)
    store = RunStore(tmp_path / "seed0-n9", donors=((6, tmp_path / "seed0-n6"),))
    assert not store.adopt_shard(0, 9, np.arange(9) % 3)  # a short shard is another batch
    assert not store.adopt_shard(0, 6, labels + 1)  # guided towards other targets
    assert not store.adopt_shard(0, 6, None)  # unlabelled against labelled outputs
    assert not store.has_shard(0)
    assert store.adopt_shard(0, 6, labels)
    assert np.array_equal(store.images(), np.zeros((6, 8, 8, 3), np.uint8))
    assert store.pool_use(6 * 4) == {
        "reused": [],
        "adopted": [[6, 0, 0]],
        "unet_evaluations_run": 0,
    }
    store.write_shard(0, np.ones((6, 8, 8, 3), np.uint8), unet=24, labels=labels)  # remade here
    assert store.pool_use(6 * 4)["adopted"] == []
    # The donor keeps its own shard: adopting linked or copied it, remaking replaced this one.
    assert np.array_equal(RunStore(tmp_path / "seed0-n6").images(), np.zeros((6, 8, 8, 3)))


def test_only_the_same_cell_at_another_budget_is_a_donor(tmp_path: Path) -> None:
    from bench.records import RunKey

    key = RunKey("m", "0123456789ab", "side-ti", 5, "abcdef0123", 0, 1024, "-ub16")
    cell = tmp_path / key.cell_folder
    for name in (
        "seed0-n512-ub16",
        "seed0-n2048-ub16",
        "seed0-n512",
        "seed1-n512-ub16",
        "seed0-n512-compiled-ub16",
        "seed0-n0512-ub16",
        "seed0-n1024-ub16",
    ):
        (cell / name).mkdir(parents=True)
    assert key.other_budgets(tmp_path) == (
        (2048, cell / "seed0-n2048-ub16"),
        (512, cell / "seed0-n512-ub16"),
    )


def test_the_preflight_counts_a_donor_s_full_shards_as_made(tmp_path: Path) -> None:
    from bench.runner.preflight import missing_outputs

    small, large = tmp_path / "seed0-n300", tmp_path / "seed0-n600"
    for folder, shards in ((small, (0, 1)), (large, (2,))):
        folder.mkdir()
        for i in shards:
            (folder / f"shard-{i:05d}.npz").write_bytes(b"")
    # Of 600 outputs: shard 0 is the 300 run's (full there), its shard 1 holds only 44 images,
    # and shard 2 is this run's own.
    assert missing_outputs(large, 600, 256, ((300, small),)) == 600 - 256 - 88
    assert missing_outputs(large, 600, 256) == 600 - 88
