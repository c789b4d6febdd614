"""The runner layer: one cell (``cell``, typed by ``spec``), and what runs many cells or one cell
many ways: ``grid`` and its ``executors``, ``sweep``, ``curves``, ``floors``, and ``perf``."""
