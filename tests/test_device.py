"""The compute device: CUDA when present, CPU otherwise, BENCH_DEVICE as an explicit override."""

from __future__ import annotations

import pytest
import torch

from bench.errors import BenchError
from bench.utils.device import compute_device


def test_default_follows_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert compute_device().type == expected


def test_override_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DEVICE", "cpu")
    assert compute_device() == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu0", "mps"])
def test_bad_override_is_one_line(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("BENCH_DEVICE", name)
    with pytest.raises(BenchError, match="BENCH_DEVICE") as err:
        compute_device()
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DEVICE", "cuda")
    with pytest.raises(BenchError, match="no CUDA GPU"):
        compute_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_sampling_matches_cpu_up_to_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seed gives the same samples on both devices: draws come from CPU generators."""
    from bench.cards import model_card
    from bench.zoo.build import build_sampler
    from bench.zoo.load import load_denoiser
    from bench.zoo.sampling import batch_generator, sample_batch

    monkeypatch.delenv("BENCH_CARDS", raising=False)
    card = model_card("celeba-64-cpu")
    out = {}
    for name in ("cpu", "cuda"):
        monkeypatch.setenv("BENCH_DEVICE", name)
        den = load_denoiser(card)
        x = sample_batch(den, build_sampler(card), 4, card.resolution, 10, batch_generator(0, 0))
        out[name] = x.cpu()
    assert torch.allclose(out["cpu"], out["cuda"], atol=2e-2)
