"""Retrying storage calls: transient database errors, and the bookkeeping after a trial trained."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TRANSIENT = (
    "database is locked",
    "database is busy",
    "deadlock",
    "could not serialize",
    "already exists",
    "duplicate key",
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error that goes away on its own (locked SQLite, concurrent DDL)."""
    text = str(exc).lower()
    return any(s in text for s in TRANSIENT)


def retry(fn: Callable, *args: Any, attempts: int = 8, what: str = "", **kwargs: Any) -> Any:
    """Call ``fn`` again (with back-off) when it fails because a database is locked or busy."""
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            log.debug("%s: transient database error (%s), retry %d", what or getattr(fn, "__name__", fn), exc, attempt)
            time.sleep(0.3 * attempt)
    return None


def persist(
    fn: Callable,
    *args: Any,
    attempts: int = 5,
    what: str = "",
    give_up_on: tuple[type[BaseException], ...] = (),
    first_delay: float = 0.5,
    **kwargs: Any,
) -> Any:
    """Call ``fn`` until it succeeds, whatever the error (except ``give_up_on``), with doubling back-off.

    For storage writes whose loss would throw away work already done (a trained trial's value).
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except give_up_on:
            raise
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning("%s failed (%s: %s); retry %d/%d", what, type(exc).__name__, exc, attempt, attempts - 1)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    return None


def best_effort(fn: Callable, *args: Any, what: str = "", **kwargs: Any) -> bool:
    """Call ``fn`` (retrying transient errors); log a warning instead of raising. Returns whether it worked."""
    try:
        retry(fn, *args, what=what, **kwargs)
    except Exception as exc:
        log.warning("%s failed (%s: %s); carrying on", what, type(exc).__name__, exc)
        return False
    return True
