"""The compute device: CUDA when present, CPU otherwise, BENCH_DEVICE as an explicit override."""

from __future__ import annotations

import pytest
import torch

from bench.device import compute_device
from bench.errors import BenchError


def test_default_follows_torch(monkeypatch):
    monkeypatch.delenv("BENCH_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert compute_device().type == expected


def test_override_to_cpu(monkeypatch):
    monkeypatch.setenv("BENCH_DEVICE", "cpu")
    assert compute_device() == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu0", "mps"])
def test_bad_override_is_one_line(monkeypatch, name):
    monkeypatch.setenv("BENCH_DEVICE", name)
    with pytest.raises(BenchError, match="BENCH_DEVICE") as err:
        compute_device()
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_refused(monkeypatch):
    monkeypatch.setenv("BENCH_DEVICE", "cuda")
    with pytest.raises(BenchError, match="no CUDA GPU"):
        compute_device()
