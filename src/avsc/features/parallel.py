"""Parallel work with bounded memory: never more than a window of results computed ahead of their use."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, Future
from typing import TypeVar

log = logging.getLogger(__name__)

#: Niceness of background decoding threads: they run in the gaps the network leaves, not against it.
BACKGROUND_NICENESS = 10

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], *, max_in_flight: int
) -> Generator[R, None, None]:
    """``pool.map(fn, items)`` in order, with at most ``max_in_flight`` results alive at once.

    ``pool.map`` submits every item at once, so when the consumer is slower than the workers
    (a backbone eating decoded frames) every result piles up in memory. Here the next item is
    submitted only when the consumer has finished with a result: the results being computed,
    waiting, and the one the consumer holds are never more than ``max_in_flight``. Leaving the
    loop early cancels what has not started.
    """
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    todo = iter(items)
    pending: deque[Future[R]] = deque()
    try:
        for item in todo:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max_in_flight:
                break
        while pending:
            result = pending.popleft().result()
            yield result
            del result  # the consumer is done with it: make room for the next one
            for item in todo:
                pending.append(pool.submit(fn, item))
                break
    finally:
        for future in pending:
            future.cancel()


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Make the calling thread (and the threads it starts, e.g. ffmpeg's) yield the CPU to the others.

    A ``ThreadPoolExecutor(initializer=...)`` for decoding workers: on a machine with as many busy
    cores as the network has intra-op threads, a decoder at the same priority preempts one of the
    network's threads and the whole operation waits for that straggler; at a lower priority it
    fills the network's idle gaps instead. Linux sets niceness per thread (``setpriority`` on the
    thread id); where that is not possible this does nothing.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except (AttributeError, OSError) as exc:  # not Linux, or not permitted: run at normal priority
        log.debug("decoding threads keep their priority (%s)", exc)
