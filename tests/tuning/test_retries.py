"""Retries of storage calls: transient database errors only for ``retry``; ``persist`` insists."""

from __future__ import annotations

import pytest

from avsc.tuning.retries import best_effort, persist, retry


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self, value: int) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return value


def test_retry_waits_out_a_locked_database():
    fn = Flaky([RuntimeError("database is locked"), RuntimeError("could not serialize access")])
    assert retry(fn, 7, what="write") == 7 and fn.calls == 3


def test_retry_raises_other_errors_at_once():
    fn = Flaky([ValueError("bad value")])
    with pytest.raises(ValueError, match="bad value"):
        retry(fn, 1)
    assert fn.calls == 1


def test_retry_gives_up_after_its_attempts():
    fn = Flaky([RuntimeError("database is locked")] * 5)
    with pytest.raises(RuntimeError, match="locked"):
        retry(fn, 1, attempts=2)
    assert fn.calls == 2


def test_persist_retries_any_error_but_the_ones_it_gives_up_on(caplog):
    fn = Flaky([OSError("connection reset"), KeyError("x")])
    assert persist(fn, 5, attempts=3, what="record value", first_delay=0.01) == 5 and fn.calls == 3
    assert "record value failed (OSError: connection reset); retry 1/2" in caplog.text
    fn = Flaky([KeyboardInterrupt(), OSError()])
    with pytest.raises(KeyboardInterrupt):
        persist(fn, 5, give_up_on=(KeyboardInterrupt,), first_delay=0.01)
    assert fn.calls == 1


def test_best_effort_logs_instead_of_raising(caplog):
    assert best_effort(Flaky([ValueError("nope")]), 1, what="log tags") is False
    assert "log tags failed (ValueError: nope); carrying on" in caplog.text
    assert best_effort(Flaky([]), 1) is True
