"""Where things live: the card folders, the reports, the data root and the cache.

A clone (an editable install) is self-describing: its ``attacks/``, ``models/`` and ``datasets/``
folders are the registry and its ``reports/`` the leaderboard. A wheel installed elsewhere carries
the same cards, manifests and checkpoints inside the package (``bench/_shipped``, copied there at
build time by ``setup.py``), so the suite finds them from any folder; it has no ``reports/``, so
the user's own results under ``BENCH_HOME`` stand in for it. ``BENCH_CARDS`` adds card folders
kept outside either; data and caches come from the environment so nothing private enters the
repository.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from bench.errors import BenchError
from bench.utils.folders import writable_folder

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parent
# The card folders a wheel carries (see setup.py); a clone keeps them beside the package.
SHIPPED = PACKAGE_ROOT / "_shipped"
CARD_KINDS = ("attacks", "models", "datasets")


def env_folder(name: str) -> Path | None:
    """The folder the environment variable ``name`` names, or None where it is unset. Set but
    empty (or blank) is refused: ``Path("")`` is the current folder, so ``BENCH_HOME=`` would
    scatter ``arrays/ pool/ results/ runs/`` wherever the command happened to run."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    if not raw.strip():
        raise BenchError(f"{name} is set but empty; unset it or give it a folder")
    return Path(raw).expanduser()


def in_clone() -> bool:
    """Whether the package runs from a source tree (a clone, installed editable or not at all),
    as opposed to a wheel installed under site-packages."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "attacks").is_dir()


def cards_root() -> Path:
    """The folder holding the base registry: ``BENCH_CARDS_BASE`` (tests use it to see only their
    own cards), else the clone, else the cards shipped inside the installed package."""
    base = env_folder("BENCH_CARDS_BASE")
    if base is not None:
        return base
    return REPO_ROOT if in_clone() else SHIPPED


def cards_dir(kind: str) -> Path:
    """The base registry folder for ``kind`` (attacks, models or datasets)."""
    return cards_root() / kind


def card_dirs(kind: str) -> list[Path]:
    """Every folder searched for cards of ``kind``: the base one, then each folder of the
    ``BENCH_CARDS`` path list (os.pathsep-separated), as lm-evaluation-harness's include_path
    adds task folders outside the clone."""
    extra = os.environ.get("BENCH_CARDS", "").split(os.pathsep)
    return [cards_dir(kind)] + [Path(p).expanduser() / kind for p in extra if p]


def base_cards_writable() -> bool:
    """Whether new cards may go into the base registry: a clone's or a stand-in's, never the
    copy inside an installed package (site-packages is not the user's to edit)."""
    return "BENCH_CARDS_BASE" in os.environ or in_clone()


def has_reports() -> bool:
    """Whether a reports folder is known: ``BENCH_REPORTS``, or the clone's ``reports/``."""
    return "BENCH_REPORTS" in os.environ or in_clone()


def reports_dir() -> Path:
    """The leaderboard's folder: ``BENCH_REPORTS``, else the clone's ``reports/``. An installed
    wheel has none, and writing beside the package would write into site-packages."""
    reports = env_folder("BENCH_REPORTS")
    if reports is not None:
        return reports
    if not in_clone():
        raise BenchError(
            "this install is not a clone, so it has no reports/ folder; set BENCH_REPORTS to "
            "one, or pass --out (run) or --results (report)"
        )
    return REPO_ROOT / "reports"


def bench_home() -> Path:
    """Cache root for arrays, training states and generations (``BENCH_HOME``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "memorization-bench"
    return _checked_home(env_folder("BENCH_HOME") or default)


def inside(root: Path, relative: str | os.PathLike, what: str) -> Path:
    """``root / relative`` resolved (links followed), once it lies strictly inside ``root``.

    Paths read from records and caches are data, not trusted: a record whose ``outputs`` was
    absolute or climbed out with ``..`` made ``bench report --galleries`` read shards anywhere
    and delete one it found corrupt. Resolving first also catches a link inside ``root`` that
    points out of it."""
    base = root.resolve()
    path = (base / relative).resolve()
    if path == base or not path.is_relative_to(base):
        raise BenchError(f"{what} {str(relative)!r} does not lie inside {base}; refusing to use it")
    return path


def home_path(relative: str | os.PathLike, what: str) -> Path:
    """``BENCH_HOME / relative``, required to lie inside it (see ``inside``)."""
    return inside(bench_home(), relative, what)


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
