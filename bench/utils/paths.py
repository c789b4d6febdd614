"""Where things live: the card folders, the data root and the cache.

Cards are found relative to the source tree (the project is installed editable), so that a clone
is self-describing, plus the folders in ``BENCH_CARDS`` for extensions kept outside it; data and
caches come from the environment so nothing private enters the repo.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from bench.errors import BenchError
from bench.utils.folders import writable_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def cards_dir(kind: str) -> Path:
    """The base registry folder for ``kind`` (attacks, models or datasets): the clone's, unless
    ``BENCH_CARDS_BASE`` stands in for it (tests use it to see only their own cards)."""
    return Path(os.environ.get("BENCH_CARDS_BASE", REPO_ROOT)) / kind


def card_dirs(kind: str) -> list[Path]:
    """Every folder searched for cards of ``kind``: the base one, then each folder of the
    ``BENCH_CARDS`` path list (os.pathsep-separated), as lm-evaluation-harness's include_path
    adds task folders outside the clone."""
    extra = os.environ.get("BENCH_CARDS", "").split(os.pathsep)
    return [cards_dir(kind)] + [Path(p).expanduser() / kind for p in extra if p]


def reports_dir() -> Path:
    return Path(os.environ.get("BENCH_REPORTS", REPO_ROOT / "reports"))


def bench_home() -> Path:
    """Cache root for arrays, training states and generations (``BENCH_HOME``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "memorization-bench"
    return _checked_home(Path(os.environ.get("BENCH_HOME", default)).expanduser())


@lru_cache
def _checked_home(home: Path) -> Path:
    """Checked once per process and folder: the first use fails fast, later uses cost nothing."""
    return writable_folder(home, "BENCH_HOME")


def data_root(override: str | os.PathLike | None = None) -> Path:
    """The CelebA root: ``--data-root`` first, then ``BENCH_DATA``."""
    raw = override if override is not None else os.environ.get("BENCH_DATA")
    if not raw:
        raise BenchError(
            "no CelebA root given: pass --data-root or set BENCH_DATA to the folder holding "
            "img_align_celeba/ and list_attr_celeba.txt"
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise BenchError(f"CelebA root {root} does not exist: pass --data-root or fix BENCH_DATA")
    return root
