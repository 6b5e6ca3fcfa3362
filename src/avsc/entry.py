"""One error-to-exit-code wrapper for the ``avsc`` command and the DVC stage scripts.

Exit status: 0 success; 1 a dataset failed validation (each problem on its own line); 2 a user
mistake (:class:`~avsc.errors.AvscError`: bad params, missing or unreadable file, URI that does
not resolve); 3 any other failure; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM, handled like
Ctrl-C: see :mod:`avsc.interrupts`). Every failure is one line on stderr naming
the command; the traceback is printed only in verbose mode (``-v``, or ``AVSC_TRACEBACK=1`` for
the stage scripts).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable

from avsc.errors import AvscError, ValidationFailed
from avsc.interrupts import EXIT_TERMINATED, Terminated, terminate_as_interrupt

log = logging.getLogger(__name__)

EXIT_INVALID_DATA = 1
EXIT_USER_ERROR = 2
EXIT_FAILURE = 3
EXIT_INTERRUPTED = 130


def first_line(exc: BaseException, *, limit: int = 300) -> str:
    """``exc``'s message on one line (its type name when it has none)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit]


def verbose_from_env() -> bool:
    """Whether ``AVSC_TRACEBACK`` asks for tracebacks (the stage scripts have no ``-v``)."""
    return os.environ.get("AVSC_TRACEBACK", "").lower() in ("1", "true", "yes")


def _say(line: str) -> None:
    """One line on stderr, with the password of any URL in it masked."""
    from avsc.secrets import redact_text

    print(redact_text(line), file=sys.stderr)


def run_entry(name: str, body: Callable[[], int | None], *, verbose: bool = False) -> int:
    """Run ``body`` and turn any exception into one line on stderr and an exit status.

    SIGTERM during ``body`` is a :class:`~avsc.interrupts.Terminated` interrupt (exit 143).
    """
    with terminate_as_interrupt():
        return _run(name, body, verbose=verbose)


def _run(name: str, body: Callable[[], int | None], *, verbose: bool) -> int:
    try:
        return int(body() or 0)
    except ValidationFailed as exc:
        _say(f"{name}: {exc}")
        for problem in exc.problems:
            _say(f"  {problem}")
        return EXIT_INVALID_DATA
    except AvscError as exc:
        if verbose:
            traceback.print_exc()
        _say(f"{name}: error: {exc}")
        return EXIT_USER_ERROR
    except Terminated:
        _say(f"{name}: terminated (SIGTERM); the last committed checkpoint is kept")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say(f"{name}: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        from avsc.outage import is_unreachable, outage_line

        if is_unreachable(exc):
            _say(f"{name}: error: {outage_line(exc)}")
            return EXIT_FAILURE
        hint = "" if verbose else " (run with -v, or AVSC_TRACEBACK=1 for a stage, to see the traceback)"
        _say(f"{name}: failed: {type(exc).__name__}: {first_line(exc)}{hint}")
        return EXIT_FAILURE
