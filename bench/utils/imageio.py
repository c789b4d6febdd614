"""The one pair of conversions between disk images and model tensors.

On disk and in caches images are uint8 HWC; in torch they are float NCHW in [-1, 1]. Every module
converts through here so that rounding is identical everywhere (a metric that rounds differently
from the sampler would invent or hide exact copies).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import BenchError


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1]."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3), rounding to nearest.

    A NaN would become a black pixel that scores like any other, so it stops the run instead.
    """
    if torch.isnan(x).any():
        raise BenchError(
            "sampling produced NaN pixels (is the guidance scale too large?); the batch was not "
            "saved and no record is written"
        )
    x = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, H*W*3) in [0, 1]: the vectors every distance uses."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0
