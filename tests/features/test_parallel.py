"""bounded_map: results in order, never more than a window of them computed ahead of the consumer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from avsc.features.parallel import bounded_map


def test_results_in_order_and_bounded_ahead_of_a_slow_consumer():
    lock = threading.Lock()
    counts = {"done": 0, "consumed": 0, "peak": 0}

    def work(i: int) -> int:
        time.sleep(0.001 * (i % 3))
        with lock:
            counts["done"] += 1
            counts["peak"] = max(counts["peak"], counts["done"] - counts["consumed"])
        return i * i

    out = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        for value in bounded_map(pool, work, range(40), max_in_flight=4):
            time.sleep(0.01)  # the slow consumer (the backbone)
            out.append(value)
            with lock:
                counts["consumed"] += 1
    assert out == [i * i for i in range(40)]
    assert 1 <= counts["peak"] <= 4


def test_stopping_early_cancels_what_was_not_started():
    started = []

    def work(i: int) -> int:
        started.append(i)
        time.sleep(0.01)
        return i

    with ThreadPoolExecutor(max_workers=1) as pool:
        for value in bounded_map(pool, work, range(100), max_in_flight=2):
            if value == 3:
                break
    assert len(started) <= 6


def test_rejects_a_window_below_one():
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError):
        list(bounded_map(pool, abs, [1], max_in_flight=0))


def test_decoding_threads_run_at_a_lower_priority_than_the_network():
    import os
    import threading

    from avsc.features.parallel import BACKGROUND_NICENESS, lower_thread_priority

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    main = niceness()
    with ThreadPoolExecutor(max_workers=2, initializer=lower_thread_priority) as pool:
        workers = set(pool.map(lambda _: niceness(), range(4)))
    assert workers == {min(19, main + BACKGROUND_NICENESS)}
    assert niceness() == main  # the caller's own thread is untouched
