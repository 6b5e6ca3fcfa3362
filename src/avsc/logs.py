"""Logging set-up shared by the CLI and the pipeline stages."""

from __future__ import annotations

import logging
import os
import warnings


class RedactSecrets(logging.Filter):
    """A handler filter: the password of any URL in a record's message becomes ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        from avsc.secrets import redact_text

        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_redaction(handler: logging.Handler) -> None:
    """Add :class:`RedactSecrets` to ``handler`` (once)."""
    if not any(isinstance(f, RedactSecrets) for f in handler.filters):
        handler.addFilter(RedactSecrets())


def setup_logging(level: str | int | None = None) -> None:
    """Configure root logging once (``AVSC_LOG_LEVEL`` overrides), quieten noisy libraries.

    Every root handler redacts passwords in URLs (:class:`RedactSecrets`), MLflow's and Optuna's
    records included.
    """
    level = level or os.environ.get("AVSC_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        install_redaction(handler)
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
