"""Data-parallel sampling: two processes under `accelerate launch` make the outputs one makes."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.attacks.store import RunStore
from bench.cli import main
from bench.utils.parallel import Ranks, current_ranks
from bench.utils.paths import REPO_ROOT
from tests.conftest import FAST_SIDE, cell_record, model_card_text

BUDGET = 600  # three shards of 256, the last one short: process 0 makes two, process 1 one

needs_accelerate = pytest.mark.skipif(
    importlib.util.find_spec("accelerate") is None, reason="needs the scale extra (accelerate)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shard_arrays(home: Path, outputs: str) -> list[dict[str, bytes]]:
    store = RunStore(home / outputs, ranks=Ranks())
    return [{k: v.tobytes() for k, v in shard.items()} for shard in store.shards()]


def launch_two(args: list[str], home: Path, **env_vars: str) -> subprocess.CompletedProcess:
    """`accelerate launch` on two CPU processes (gloo), as a user would type it."""
    env = {
        **os.environ,
        "BENCH_HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": ".",
        **env_vars,
    }
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes=2",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        f"--main_process_port={free_port()}",
        "-m",
        "bench",
        *args,
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("attack", ["carlini", "side"])
@needs_accelerate
def test_two_processes_make_the_outputs_and_record_of_one(
    trained: Path, tmp_path: Path, attack: str
) -> None:
    overrides = FAST_SIDE if attack == "side" else {}
    one = cell_record(
        attack, "8", model="tiny-8", budget=BUDGET, overrides=overrides, results=tmp_path / "one"
    )
    sets = [f"--set={k}={v}" for k, v in overrides.items()]
    home = tmp_path / "home2"
    done = launch_two(
        ["run", f"--attack={attack}", "--scale=8", "--model=tiny-8", f"--budget={BUDGET}"]
        + sets
        + ["--json", f"--out={tmp_path / 'two'}"],
        home,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1  # the main process alone prints
    two = json.loads(printed[0])
    ref = shard_arrays(Path(os.environ["BENCH_HOME"]), one["outputs"])
    assert len(ref) == 3
    assert shard_arrays(home, two["outputs"]) == ref
    assert json.dumps(two["metrics"], sort_keys=True) == json.dumps(one["metrics"], sort_keys=True)
    assert two["cost"] == one["cost"]


def test_each_process_owns_every_nth_shard() -> None:
    owners = [[i for i in range(7) if Ranks(rank, 3).owns(i)] for rank in range(3)]
    assert owners == [[0, 3, 6], [1, 4], [2, 5]]


def test_a_distributed_launch_without_accelerate_is_one_line(
    world: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "accelerate", None)  # import accelerate now fails
    current_ranks.cache_clear()
    try:
        assert main(["run", "--attack=carlini", "--scale=8", "--model=tiny-8"]) == 2
    finally:
        current_ranks.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "accelerate is not installed" in err


@needs_accelerate
def test_two_processes_train_the_model_one_trains(world: Path, tmp_path: Path) -> None:
    from bench.cards import model_card
    from bench.zoo.checkpoint import load_tensors
    from bench.zoo.manage import train_card
    from bench.zoo.train import state_path

    card = model_card("tiny-8")
    train_card(card, None, progress=False)
    one, _ = load_tensors(state_path(card), card)
    home = tmp_path / "home2"
    # A copy of the cards, so the second training writes its own checkpoint and [trained] table.
    cards = tmp_path / "cards2"
    shutil.copytree(world, cards, ignore=shutil.ignore_patterns("*.safetensors"))
    (cards / "models" / "tiny-8.toml").write_text(model_card_text("tiny-8", "8"))
    done = launch_two(["zoo", "train", "tiny-8"], home, BENCH_CARDS_BASE=str(cards))
    assert done.returncode == 0, done.stderr[-3000:]
    two, meta = load_tensors(home / "train" / "tiny-8" / "state.safetensors", card)
    assert meta["step"] == 8
    assert one.keys() == two.keys()
    for key in one:
        # The attention key bias adds q·b to every logit of a query, which softmax ignores: its
        # true gradient is 0, so Adam turns floating-point noise into lr-sized steps whose sign
        # depends on the order of sums (1.9e-5 apart on one CPU). The loss ignores it; skip it.
        if key.endswith("to_k.bias"):
            continue
        # The same batches, noise and steps; only the order of floating-point sums differs.
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fails", [False, True])
def test_the_process_group_is_destroyed_before_exit(tmp_path: Path, fails: bool) -> None:
    """Left to interpreter teardown, gloo aborted a finished two-process run now and then."""
    from bench.utils.parallel import process_group_closed

    dist = torch.distributed
    rendezvous = f"file://{tmp_path / 'rendezvous'}"
    dist.init_process_group("gloo", init_method=rendezvous, rank=0, world_size=1)
    expected = pytest.raises(RuntimeError) if fails else contextlib.nullcontext()
    with expected, process_group_closed():
        dist.all_reduce(torch.ones(1))
        if fails:
            raise RuntimeError("a command failed")
    assert not dist.is_initialized()
