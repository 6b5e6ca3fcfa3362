"""A tracking server that stops answering: recognise it, say so in one line, clean up without waiting (stdlib only).

MLflow retries a failed HTTP request ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` times (default 7, with
exponential back-off of factor ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``, each attempt bounded by
``MLFLOW_HTTP_REQUEST_TIMEOUT`` seconds), then raises. That bounded retry is the only wait: a stage
whose server is gone ends with one line naming the tracking URI (:func:`outage_line`, printed by
:mod:`avsc.entry`); its last committed checkpoint is intact, and the cleanup calls that would
contact the server again (ending the run) make a single attempt (:func:`no_retries`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Exception types (by name, from ``requests``/``urllib3``) that mean "no answer from the server".
UNREACHABLE = {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "MaxRetryError", "RetryError"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is an HTTP request the tracking server never answered."""
    for link in _chain(exc):
        module = type(link).__module__ or ""
        if module.startswith(("requests", "urllib3")) and type(link).__name__ in UNREACHABLE:
            return True
        if module.startswith("mlflow") and "failed with exception" in str(link) and "Max retries" in str(link):
            return True
    return False


def tracking_uri() -> str:
    """The tracking URI MLflow uses in this process (``?`` when MLflow was never imported)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return os.environ.get("MLFLOW_TRACKING_URI", "?")
    try:
        return str(mlflow.get_tracking_uri())
    except Exception:
        return os.environ.get("MLFLOW_TRACKING_URI", "?")


def outage_line(exc: BaseException) -> str:
    """One line naming the tracking URI, for an error :func:`is_unreachable` recognises."""
    retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    return (
        f"the MLflow tracking server {tracking_uri()} did not answer (after {retries} retries); "
        "committed checkpoints are kept: start the server and run again to resume into the same run"
    )


@contextmanager
def no_retries(timeout_s: int = 5) -> Iterator[None]:
    """MLflow HTTP requests inside the block make one attempt of at most ``timeout_s`` seconds."""
    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s)}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
