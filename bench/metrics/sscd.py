"""Optional SSCD backbone: SIDE's bands are defined on SSCD cosine similarity, not on pixels.

The model is a TorchScript file the user already has; nothing is downloaded, because the suite must
run offline and a silent download would make results depend on network state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from bench.errors import BenchError
from bench.metrics.bands import BAND_NAMES, band_edges
from bench.metrics.tally import BandTally
from bench.utils.device import compute_device
from bench.utils.imageio import to_tensor

# The SSCD authors' inference transform: a 320×320 resize and ImageNet normalisation.
SSCD_SIZE = 320
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EMBED_BATCH = 32
OUTPUT_CHUNK = 1024
WHERE_TO_GET = (
    "download a TorchScript release such as sscd_disc_mixup.torchscript.pt from "
    "https://github.com/facebookresearch/sscd-copy-detection and pass its path to --sscd"
)


def require_model_file(path: Path) -> Path:
    """Fail with where to get SSCD, before any slow work, when the file is not there."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no SSCD model at {path}; {WHERE_TO_GET}")
    return path


class SscdEmbedder:
    """A loaded TorchScript SSCD model that maps uint8 images to unit-length descriptors."""

    def __init__(self, path: Path) -> None:
        path = require_model_file(path)
        self.device = compute_device()
        try:
            self.model = torch.jit.load(str(path), map_location=self.device).eval()
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BenchError(
                f"{path} is not a TorchScript model ({first}); {WHERE_TO_GET}"
            ) from None

    @torch.inference_mode()
    def embed(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, D) L2-normalised descriptors, so cosine similarity is a dot product."""
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        out = []
        for s in range(0, len(images), EMBED_BATCH):
            x = (to_tensor(images[s : s + EMBED_BATCH]).to(self.device) + 1.0) / 2.0
            x = F.interpolate(
                x, size=(SSCD_SIZE, SSCD_SIZE), mode="bilinear", align_corners=False, antialias=True
            )
            y = self.model((x - mean) / std).flatten(1).float()
            out.append(F.normalize(y, dim=1).cpu().numpy())
        return np.concatenate(out)


def similarity_edges(bands: dict[str, Any], dim: int) -> dict[str, tuple[float, float]]:
    """Similarity bands (lo, hi] as normalised-ℓ2 bands [lo, hi) on unit descriptors.

    For unit vectors ``|a - b|^2 = 2 - 2 cos``, so the ℓ2 engine answers similarity questions
    exactly; the edge nearer to a copy (the higher similarity) stays inside the band.
    """
    edges = {}
    for name, (lo, hi) in band_edges(bands).items():
        if hi > 1:
            raise BenchError(f"SSCD band {name!r} ends at similarity {hi} > 1")
        edges[name] = (math.sqrt((2 - 2 * hi) / dim), math.sqrt((2 - 2 * lo) / dim))
    return edges


def sscd_scores(
    embedder: SscdEmbedder,
    outputs: np.ndarray,
    members: np.ndarray,
    nonmembers: np.ndarray,
    bands: dict[str, Any],
    progress: bool = False,
) -> dict[str, Any]:
    """AMS/UMS on SSCD similarity against members, and the same against non-members."""
    member_desc = embedder.embed(members)
    edges = similarity_edges(bands, member_desc.shape[1])
    member = BandTally(member_desc, edges, ())
    chance = BandTally(embedder.embed(nonmembers), edges, ())
    starts = range(0, len(outputs), OUTPUT_CHUNK)
    for s in tqdm(starts, desc="SSCD descriptors", unit="chunk", leave=False, disable=not progress):
        desc = embedder.embed(outputs[s : s + OUTPUT_CHUNK])
        member.add(desc)
        chance.add(desc)
    n = len(outputs)
    pick = ("ams", "ums")
    return {
        **{k: v for k, v in member.result(n).items() if k in pick},
        "nonmember": {k: v for k, v in chance.result(n).items() if k in pick},
        "bands": {b: {k: float(v) for k, v in bands[b].items()} for b in BAND_NAMES},
    }
