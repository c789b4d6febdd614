"""One line on stderr when the suite mends something by itself, such as a rebuilt cache."""

from __future__ import annotations

import sys


def notice(text: str) -> None:
    print(f"note: {text}", file=sys.stderr, flush=True)
