"""Logging set-up shared by the CLI and the pipeline stages."""

from __future__ import annotations

import logging
import os
import warnings


def setup_logging(level: str | int | None = None) -> None:
    """Configure root logging once (``AVSC_LOG_LEVEL`` overrides), quieten noisy libraries."""
    level = level or os.environ.get("AVSC_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for noisy in (
        "absl",
        "tensorflow",
        "h5py",
        "matplotlib",
        "PIL",
        "numba",
        "urllib3",
        "great_expectations",
        "alembic",
        "git",
        "mlflow.store.db.utils",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
