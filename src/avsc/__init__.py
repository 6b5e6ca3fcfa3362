"""avsc: reproducible, tracked audio-visual scene classification (DCASE 2021 Task 1B)."""

__version__ = "0.1.0"
