"""Extraction attacks: one module and one class each, loaded lazily from the attack cards."""
