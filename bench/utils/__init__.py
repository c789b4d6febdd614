"""Utilities every layer may use: atomic files, cache files, locks, image conversion, paths,
provenance, the compute device, data-parallel ranks, notices and writable folders."""
