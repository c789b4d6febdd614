"""Where tensors compute: CUDA when torch sees a GPU, else the CPU; ``BENCH_DEVICE`` overrides.

Random draws stay on CPU generators and are moved to the device afterwards, so a seed gives the
same noise, batches and initial weights everywhere; CPU and GPU runs then differ only by
floating-point rounding, and a run resumed on another device continues the same random stream.
On the CPU a resumed training run equals an uninterrupted one bit for bit; on CUDA, cuDNN's
nondeterministic kernels make it equal only up to rounding. Each process of a data-parallel
job (``bench.utils.parallel``) takes the GPU of its ``LOCAL_RANK``.
"""

from __future__ import annotations

import os

import torch

from bench.errors import BenchError


def compute_device() -> torch.device:
    """The device for training, sampling and classifiers."""
    name = os.environ.get("BENCH_DEVICE", "").strip()
    if not name:
        if not torch.cuda.is_available():
            return torch.device("cpu")
        # One GPU per process under `accelerate launch` / torchrun, which set LOCAL_RANK.
        local_rank = os.environ.get("LOCAL_RANK")
        return torch.device("cuda" if local_rank is None else f"cuda:{int(local_rank)}")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BenchError(
            f"BENCH_DEVICE={name!r} is not a torch device; use cpu or cuda[:N]"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError(f"BENCH_DEVICE={name!r} but torch sees no CUDA GPU; unset it or use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise BenchError(
            f"BENCH_DEVICE={name!r} but torch sees {torch.cuda.device_count()} CUDA GPU(s)"
        )
    if device.type not in ("cpu", "cuda"):
        raise BenchError(f"BENCH_DEVICE={name!r}: only cpu and cuda[:N] are supported")
    return device
