"""SIGTERM handled like Ctrl-C: the same clean path, a distinct exit status.

``dvc repro``, ``avsc train``/``tune`` and the stage scripts run under :func:`terminate_as_interrupt`
(installed by :func:`avsc.entry.run_entry`). The first SIGTERM raises :class:`Terminated`, a
:class:`KeyboardInterrupt`, so every ``except KeyboardInterrupt`` cleanup runs unchanged: the MLflow
run ends ``KILLED``, an Optuna trial is told ``FAIL`` ("interrupted"), and the process exits 143
(128 + 15; Ctrl-C exits 130). Further SIGTERMs are ignored while that cleanup runs (SIGKILL
remains the hard stop, and is safe: checkpoints are committed atomically).

A signal that arrives inside :func:`deferred` (the commit of an epoch's checkpoint and its
metrics) is held until the block ends, so the epoch being committed is committed whole.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


class _State:
    received = False  # a SIGTERM arrived (the exit status is 143, not 130)
    raised = False  # Terminated was raised once: later SIGTERMs are ignored
    depth = 0  # inside deferred() blocks
    pending = False  # a SIGTERM arrived inside a deferred() block


def terminated() -> bool:
    """Whether this process received SIGTERM (under :func:`terminate_as_interrupt`)."""
    return _State.received


def interrupt_exit_code() -> int:
    """143 after SIGTERM, 130 otherwise (Ctrl-C)."""
    return EXIT_TERMINATED if _State.received else 130


def _raise_terminated() -> None:
    _State.raised = True
    raise Terminated("terminated (SIGTERM)")


def _on_sigterm(signum, frame) -> None:
    _State.received = True
    if _State.raised:
        log.warning("SIGTERM again: already stopping")
        return
    if _State.depth:
        _State.pending = True
        log.warning("SIGTERM: stopping once the checkpoint being written is committed")
        return
    log.warning("SIGTERM: stopping (the last committed checkpoint is kept)")
    _raise_terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread for the duration of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _State.received = _State.raised = _State.pending = False
    _State.depth = 0
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred() -> Iterator[None]:
    """A block SIGTERM does not cut short: a SIGTERM received inside it is raised when it ends."""
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
    if not _State.depth and _State.pending and not _State.raised:
        _State.pending = False
        log.warning("SIGTERM: checkpoint committed, stopping")
        _raise_terminated()
