"""The report layer: records as one frame, the leaderboard's tables and curves, and summaries.

``frame`` flattens run records into a table (its column names in ``columns``); ``tables``,
``curves`` and ``fits`` are views of it; ``claims`` types the cards' claims and ``verdicts`` holds
every test of them; ``answer`` turns the frame into typed answers, which ``view`` puts into words;
``plots`` draws the figures and ``gallery`` the outputs beside their members (under BENCH_HOME);
``profiles`` splits the frame by profile; ``leaderboard`` assembles ``reports/leaderboard.md``;
``summary`` is one record for a person.
"""

from bench.report.gallery import write_gallery
from bench.report.leaderboard import write_leaderboard

__all__ = ["write_gallery", "write_leaderboard"]
