"""``python -m bench``: the command line.

Suite's choice (issue 37 §5, reports/shared-cpu.md): the command line's OpenMP threads sleep when
they wait instead of spinning. Measured 2026-12-07 on this 2-core machine, a sampling slice at 2
threads ran 1.64× its quiet time beside one CPU-bound process with ``OMP_WAIT_POLICY=passive``
against 2.96× with it unset (20× at 32 images per call), and 1.30 s against 1.27 s when quiet.
OpenMP reads it once, when torch loads, so it is set here, before the suite imports torch; a value
the user set is kept. A program importing ``bench`` as a library keeps its own environment (so
`bench perf --shared-cpu` can still time the runtime's default in its subprocesses).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from bench.cli import main  # noqa: E402  (torch must load after the line above)

raise SystemExit(main())
