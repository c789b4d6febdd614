"""The metrics engine: one scorer for every attack, plus the ℓ2 band calibration it relies on.

Definitions follow docs/background.md (SIDE's AMS/UMS, Carlini's (ℓ2, δ) and calibrated extraction,
Gu's ratio); the values the papers leave open live in the dataset card, marked as the suite's own.
"""

from bench.metrics.bands import BAND_NAMES, calibrate_bands
from bench.metrics.scores import score

__all__ = ["BAND_NAMES", "calibrate_bands", "score"]
