"""Retrying storage calls: transient database errors, and the bookkeeping after a trial trained."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import tenacity

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
    name = what or getattr(fn, "__name__", str(fn))
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_incrementing(start=0.3, increment=0.3),
        before_sleep=lambda state: log.debug(
            "%s: transient database error (%s), retry %d",
            name,
            state.outcome.exception() if state.outcome else None,
            state.attempt_number,
        ),
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)


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

    def warn(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s failed (%s: %s); retry %d/%d", what, type(exc).__name__, exc, state.attempt_number, attempts - 1
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Exception) & tenacity.retry_if_not_exception_type(give_up_on),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=first_delay, max=10.0),
        before_sleep=warn,
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)


def best_effort(fn: Callable, *args: Any, what: str = "", **kwargs: Any) -> bool:
    """Call ``fn`` (retrying transient errors); log a warning instead of raising. Returns whether it worked."""
    try:
        retry(fn, *args, what=what, **kwargs)
    except Exception as exc:
        log.warning("%s failed (%s: %s); carrying on", what, type(exc).__name__, exc)
        return False
    return True
