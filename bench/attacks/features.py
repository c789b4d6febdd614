"""Feature extractors for SIDE's clustering step, pluggable and offline by default.

The paper embeds generations with SSCD (and reports CLIP/DINOv2 as similar). Those weights cannot
be fetched here, so the default is the suite's own: pixels projected by PCA fitted on the
synthetic set itself, then L2-normalised so cohesion is a cosine similarity as in the paper. A
local TorchScript SSCD file can be plugged in with ``features = "sscd:/path/to/sscd.pt"``.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from bench.errors import BenchError
from bench.imageio import to_unit


def pixel_pca(images: np.ndarray, dim: int) -> np.ndarray:
    """Centred pixels -> top ``dim`` principal components -> unit vectors."""
    x = to_unit(images)
    x = x - x.mean(axis=0, keepdims=True)
    pca = faiss.PCAMatrix(x.shape[1], min(dim, x.shape[1], len(x)))
    pca.train(np.ascontiguousarray(x))
    z = pca.apply(np.ascontiguousarray(x))
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def extract(images: np.ndarray, spec: str, pca_dim: int = 64) -> np.ndarray:
    """Unit-norm features for ``images`` by extractor spec: ``pca`` or ``sscd:PATH``."""
    if spec == "pca":
        return pixel_pca(images, pca_dim)
    if spec.startswith("sscd:"):
        from bench.metrics.sscd import SscdEmbedder

        return SscdEmbedder(Path(spec[5:])).embed(images)
    raise BenchError(f"unknown feature extractor {spec!r}; use 'pca' or 'sscd:PATH'")
