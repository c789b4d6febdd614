"""Data-parallel processes inside one job: which part of the work this process does.

Under ``accelerate launch --multi_gpu --num_processes N`` (torchrun underneath) each process runs
the same command. Outputs are split by whole shards: process ``r`` of ``N`` makes shards r, r+N,
r+2N, … Shard ``i`` is always drawn from generator (seed, i), so the shards, and every record
scored from them, are the same on one CPU process, one GPU or N processes; the shard size
(``bench.attacks.base.SHARD``) is therefore part of the definition of a run's outputs.
Preparation that every process needs (SIDE's synthetic set and classifier) is made by the main
process and read by the others after a barrier (``RunStore``); scoring and the record are the
main process's alone.

accelerate is imported only when the environment says the job is distributed (``WORLD_SIZE`` > 1),
so a single process never needs it installed.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from bench.errors import BenchError


@dataclass(frozen=True)
class Ranks:
    """This process's index among ``world`` processes and a barrier that waits for all of them."""

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = lambda: None
    broadcast: Callable[[Any], Any] = lambda obj: obj

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, shard: int) -> bool:
        """Whether this process makes ``shard`` (round robin over whole shards)."""
        return shard % self.world == self.rank

    def wait(self) -> None:
        """Block until every process reaches this point (nothing to wait for when alone)."""
        if self.world > 1:
            self.barrier()

    def all_sum(self, tensors: list[torch.Tensor]) -> None:
        """Replace each tensor by its sum over the processes (one all-reduce for all of them)."""
        if self.world == 1 or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        torch.distributed.all_reduce(flat)
        for t, summed in zip(tensors, flat.split([t.numel() for t in tensors])):
            t.copy_(summed.view_as(t))

    def share(self, obj: Any) -> Any:
        """The main process's ``obj``, returned in every process (what others pass is ignored)."""
        return self.broadcast(obj) if self.world > 1 else obj


SINGLE = Ranks()


@functools.cache
def current_ranks() -> Ranks:
    """The processes of this job: one unless launched by accelerate (or torchrun) with several."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return SINGLE
    try:
        from accelerate import PartialState
    except ImportError:
        raise BenchError(
            "this job was launched on several processes, but accelerate is not installed; "
            "pip install 'memorization-bench[scale]'"
        ) from None
    from bench.utils.device import compute_device

    # accelerate picks gloo for CPU processes only when told to; NCCL needs one GPU per process.
    state = PartialState(cpu=compute_device().type == "cpu")
    return Ranks(state.process_index, state.num_processes, state.wait_for_everyone, _broadcast)


def _broadcast(obj: Any) -> Any:
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([obj], from_process=0)[0]


@contextlib.contextmanager
def process_group_closed() -> Iterator[None]:
    """Destroy the job's process group before the interpreter exits (PyTorch's documented
    shutdown). Left to interpreter teardown, gloo's worker threads can abort a finished process
    with SIGABRT ("terminate called without an active exception"), failing the whole launch. After
    a failure no barrier is taken: another process may never reach it."""
    try:
        yield
    except BaseException:
        _destroy_process_group()
        raise
    if _process_group_up():
        torch.distributed.barrier()
    _destroy_process_group()


def _process_group_up() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _destroy_process_group() -> None:
    if _process_group_up():
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def main_prints() -> Iterator[None]:
    """Only the main process writes to stdout, so a command's summary appears once."""
    if current_ranks().is_main:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield
