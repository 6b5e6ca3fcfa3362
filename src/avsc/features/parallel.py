"""Parallel work with bounded memory: never more than a window of results computed ahead of their use."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, Future
from typing import TypeVar

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
