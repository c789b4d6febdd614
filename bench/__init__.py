"""memorization-bench: extraction attacks against diffusion models, compared on equal terms.

The public API, loaded on first use so that ``import bench`` stays cheap (docs/extending.md's
"Python API" section shows an example of it, and ``tests/test_frontdoor.py`` runs that example):

- ``CellSpec``, ``ZooModel``, ``FolderModel``, ``RunOptions`` and ``run_cell``: one benchmark cell;
- ``Attack``, ``AttackResult``, ``ModelView``: what an attack implements and receives;
- ``evaluate_samples``: score images you bring (a folder, an .npz or an array) against a zoo
  model's members, with the preprocessing applied and one result per image;
- ``score``: every metric of a set of outputs against members and non-members (arrays you hold);
- ``RunRecord``, ``read_record``: the run record and its one reader;
- ``BenchError``: the one exception type for mistakes a user can mend.

Sub-packages, in the order data flows: ``utils``, ``cards``, ``data``, ``metrics``, ``zoo``,
``attacks``, ``records``, ``membership``, ``runner``, ``report``, ``cli``; each imports only from
those before it.
"""

from __future__ import annotations

import importlib
from typing import Any

from bench.errors import BenchError

__version__ = "0.1.0"

_API = {
    "CellSpec": "bench.runner.spec",
    "ZooModel": "bench.runner.spec",
    "FolderModel": "bench.runner.spec",
    "RunOptions": "bench.runner.spec",
    "run_cell": "bench.runner.cell",
    "Attack": "bench.attacks.base",
    "AttackResult": "bench.attacks.base",
    "ModelView": "bench.attacks.base",
    "score": "bench.metrics",
    "evaluate_samples": "bench.metrics.evaluate",
    "RunRecord": "bench.records",
    "read_record": "bench.records",
}

__all__ = ["BenchError", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
