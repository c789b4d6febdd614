"""memorization-bench: extraction attacks against diffusion models, compared on equal terms."""

__version__ = "0.1.0"
