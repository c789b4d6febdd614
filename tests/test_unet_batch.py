"""A card's ``[scheduler] unet_batch``: a batch denoised in slices, kept apart where it rounds.

Slices must give the whole batch's outputs up to rounding, never show the UNet more images than
the card allows, and (since they round differently) keep their runs, pool batches and records
apart from whole-batch ones, like compiled outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from bench.cards import model_card
from bench.errors import BenchError
from bench.zoo.build import unet_batch
from bench.zoo.load import load_denoiser
from tests.conftest import cell_record


def _set_unet_batch(world: Path, value: str) -> None:
    card = world / "models" / "tiny-8.toml"
    text = card.read_text().replace(
        "sampling_steps = 4", f"sampling_steps = 4\nunet_batch = {value}"
    )
    card.write_text(text)


def _unet_calls(unet: torch.nn.Module) -> list[int]:
    seen: list[int] = []
    unet.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    return seen


@pytest.mark.parametrize("per_image_t", [False, True])
def test_slices_give_the_whole_batch_up_to_rounding(trained: Path, per_image_t: bool) -> None:
    whole = load_denoiser(model_card("tiny-8"))
    sliced = load_denoiser(model_card("tiny-8"))
    sliced.unet_batch = 4
    x = torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.arange(10) * 9 if per_image_t else torch.tensor(50)
    calls = _unet_calls(sliced.unet)
    with torch.no_grad():
        out, ref = sliced(x, t), whole(x, t)
    assert calls == [4, 4, 2]
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5)


def test_a_caption_model_slices_its_captions_with_its_images(trained: Path) -> None:
    den = load_denoiser(model_card("tiny-8-caption"))
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    captions = ["smiling", "a man", "glasses", "blond hair", "a woman"]
    with torch.no_grad():
        ref = den(x, 40, captions)
        den.unet_batch = 2
        out = den(x, 40, captions)
        # a slice's captions are its own: the last image alone with its caption
        last = den(x[4:], 40, captions[4:])
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(out[4:], last, atol=1e-5)


@pytest.mark.parametrize("value", ["0", "-3", '"16"', "true", "2.5"])
def test_a_bad_unet_batch_is_one_clear_error(world: Path, value: str) -> None:
    _set_unet_batch(world, value)
    # The card's schema refuses it when the card is read: one line naming the card and field.
    with pytest.raises(BenchError, match=r"tiny-8\.toml: scheduler\.unet_batch is "):
        unet_batch(model_card("tiny-8"))


def test_a_unet_batch_of_a_whole_batch_or_more_slices_nothing(world: Path) -> None:
    assert unet_batch(model_card("tiny-8")) is None
    _set_unet_batch(world, "256")
    assert unet_batch(model_card("tiny-8")) is None


def test_sliced_runs_keep_their_own_outputs_pool_and_record(trained: Path) -> None:
    home = Path(os.environ["BENCH_HOME"])
    whole = cell_record("carlini", "8", seed=0, budget=16, overrides={"clique_k": 2})
    assert whole["runtime"]["unet_batch"] is None
    _set_unet_batch(trained, "4")
    sliced = cell_record("carlini", "8", seed=0, budget=16, overrides={"clique_k": 2})
    assert sliced["runtime"]["unet_batch"] == 4
    assert sliced["outputs"] != whole["outputs"] and sliced["outputs"].endswith("-ub4")
    # Its own pool setting, named in key.json; the whole-batch setting's folder is unchanged.
    keys = [json.loads(p.read_text()) for p in (home / "pool").rglob("key.json")]
    assert len(keys) == 2
    assert sorted(k.get("unet_batch", 0) for k in keys) == [0, 4]
    assert sum("unet_batch" in k for k in keys) == 1  # the whole-batch key has no such entry
    # The slices were sampled afresh: no whole-batch pool batch stands in for them.
    assert sliced["pool"]["reused"] == []


def test_guided_sampling_slices_the_classifier_too(trained: Path) -> None:
    """The guidance gradient is taken in the denoiser's slices (each sample's is its own), and the
    guided samples match the whole-batch ones up to rounding."""
    from bench.attacks.classifier import ClassifierGuidance, NoisyClassifier
    from bench.zoo.build import build_sampler
    from bench.zoo.sampling import sample_batch

    card = model_card("tiny-8")
    torch.manual_seed(0)
    classifier = NoisyClassifier(3, 8).eval().requires_grad_(False)
    steer = ClassifierGuidance(classifier, 5.0)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    seen = _unet_calls(classifier)
    out = {}
    for size in (None, 3):
        den = load_denoiser(card)
        den.unet_batch = size
        seen.clear()
        gen = torch.Generator().manual_seed(3)
        out[size] = sample_batch(
            den, build_sampler(card), 7, 8, 4, gen, guidance=steer, labels=labels
        )
        assert max(seen) == (7 if size is None else 3)
    assert torch.allclose(out[None], out[3], atol=1e-4)
