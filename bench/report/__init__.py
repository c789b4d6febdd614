"""The report layer: records as one frame, the leaderboard's tables and curves, and summaries.

``frame`` flattens run records into a table; ``tables`` and ``curves`` are views of it;
``profiles`` splits it by profile; ``leaderboard`` writes ``reports/leaderboard.md`` and its
plots; ``summary`` is one record for a person.
"""

from bench.report.gallery import write_gallery
from bench.report.leaderboard import write_leaderboard

__all__ = ["write_gallery", "write_leaderboard"]
