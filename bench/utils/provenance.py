"""What produced a result: code version, library versions, machine."""

from __future__ import annotations

import functools
import platform
import subprocess

from bench.utils.paths import REPO_ROOT, in_clone


@functools.cache
def git_commit() -> str:
    """The commit of the code this process runs, taken once: the CLI asks at start-up, so a long
    grid names the tree it started from even if HEAD moves while it runs. ``+dirty`` marks
    uncommitted changes outside ``reports/``: records written meanwhile are results, not code."""
    if not in_clone():  # an installed wheel: a repository around site-packages is not its code
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    import diffusers
    import faiss
    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "faiss": faiss.__version__,
        "numpy": numpy.__version__,
    }


def machine() -> str:
    """The host, plus the GPU when one computes: CPU and GPU results differ by rounding."""
    import os

    from bench.utils.device import compute_device

    host = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    device = compute_device()
    if device.type == "cuda":
        import torch

        return f"{host}, {torch.cuda.get_device_name(device)}"
    return host
