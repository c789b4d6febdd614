"""Image files read from outside the suite (a CelebA root, `bench evaluate --samples`): checked to
be regular files, and decoded to 8-bit RGB with deep pixels scaled, never clipped.

Two ways such a file went silently or loudly wrong. A FIFO, ``/dev/zero`` or a link to either,
named like an image, hung the reader (an ``open`` that waits for a writer, a ``read`` that never
ends) or filled memory; it is refused from its ``stat`` before it is opened. And Pillow's
``convert("RGB")`` clips 16-bit greyscale (``I;16``, what a 16-bit PNG opens as) to 255, so a
member saved as a 16-bit PNG came out nearly white and scored as a miss with no warning; here its
values are scaled by 255/65535 as a 16-bit-to-8-bit conversion should be. 32-bit integer and
float images (``I``, ``F``) have no fixed range to scale from, so they are refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import BenchError

# Pillow's 16-bit greyscale modes; a 16-bit PNG opens as one of them.
DEEP_GREY = ("I;16", "I;16L", "I;16B", "I;16N")
# Modes whose range is not fixed, so no scaling to 8 bits is right for every file.
UNSCALABLE = ("I", "F")


def regular_file(path: Path, what: str = "image") -> Path:
    """``path`` once ``stat`` (links followed) shows a regular file; one line otherwise, naming a
    link loop, a FIFO, a device or a folder, before anything opens it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: a link loop; EACCES and the like
        raise BenchError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a folder"
            if stat.S_ISDIR(mode)
            else "not a regular file"
        )
        raise BenchError(f"{what} {path} is {kind}, not a regular file; replace or remove it")
    return path


def rgb8(image: Image.Image, path: Path) -> Image.Image:
    """``image`` as 8-bit RGB: 16-bit greyscale scaled (not clipped), other modes converted."""
    if image.mode in DEEP_GREY:
        deep = np.asarray(image, dtype=np.uint16)  # native order whatever the file's was
        grey = np.round(deep.astype(np.float64) * (255 / 65535)).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=-1), "RGB")
    if image.mode in UNSCALABLE:
        raise BenchError(
            f"image {path} has {image.mode!r} pixels (32-bit), whose range is not fixed; save "
            "it as 8- or 16-bit PNG or as JPEG"
        )
    return image.convert("RGB")
