"""Liveness: the monitored heartbeat thread, journal staleness on the observer's clock, retry once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from avsc.tuning import liveness
from avsc.tuning.liveness import Heartbeat, HeartbeatLost, StaleTrialWatch, heartbeat_for, machine_key, process_ticks


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# --------------------------------------------------------------------------------------------
# the heartbeat thread


def test_dead_heartbeat_thread_is_noticed_and_restarted(caplog):
    beats: list[int] = []

    def beat() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise SystemExit("simulated death")  # not an Exception: ends the thread

    with Heartbeat(beat, interval=0.01, name="trial 7") as hb:
        assert _wait_for(lambda: not hb.thread.is_alive())
        assert len(beats) == 1
        with caplog.at_level(logging.ERROR, logger="avsc.tuning.liveness"):
            hb.check()
        assert hb.restarts == 1
        assert _wait_for(lambda: len(beats) >= 3)  # beating again
        assert hb.thread.is_alive()
    assert not hb.thread.is_alive()
    assert [r.getMessage() for r in caplog.records] == [
        "trial 7: heartbeat thread died (SystemExit: simulated death); restarted (1/3)"
    ]


def test_heartbeat_thread_that_keeps_dying_fails_the_trial():
    def beat() -> None:
        raise SystemExit("always")

    hb = Heartbeat(beat, interval=0.01, name="trial 3")
    hb.start()
    for restart in range(1, liveness.MAX_RESTARTS + 1):
        assert _wait_for(lambda: not hb.thread.is_alive())
        hb.check()
        assert hb.restarts == restart
    assert _wait_for(lambda: not hb.thread.is_alive())
    with pytest.raises(HeartbeatLost, match=r"trial 3: heartbeat thread died 4 times \(last: SystemExit: always\)"):
        hb.check()


def test_heartbeat_survives_storage_errors(caplog):
    calls: list[int] = []

    def beat() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise OSError("storage hiccup")

    with (
        caplog.at_level(logging.WARNING, logger="avsc.tuning.liveness"),
        Heartbeat(beat, interval=0.01, name="t") as hb,
    ):
        assert _wait_for(lambda: len(calls) >= 4)
        assert hb.thread.is_alive()
        hb.check()
        assert hb.restarts == 0
    assert hb.failures == 2
    assert sum("heartbeat not recorded (OSError: storage hiccup)" in r.getMessage() for r in caplog.records) == 2


def test_reporter_checks_the_heartbeat_every_batch():
    from avsc.tuning.objective import make_reporter

    beats: list[int] = []
    dead = threading.Event()

    def beat() -> None:
        beats.append(1)
        if not dead.is_set():
            dead.set()
            raise SystemExit

    hb = Heartbeat(beat, interval=0.01, name="trial 0")
    hb.start()
    assert _wait_for(lambda: not hb.thread.is_alive())
    reporter = make_reporter(None, score=lambda model: None, max_epochs=1, pruning=False, beat=hb)
    reporter.on_train_batch_end(0)
    assert hb.restarts == 1 and hb.thread.is_alive()
    hb.stop()


# --------------------------------------------------------------------------------------------
# journal staleness


def _journal(tmp_path: Path):
    import optuna

    from avsc.tuning.storage import open_storage

    handle = open_storage(f"journal:{tmp_path / 'journal.log'}", tmp_path)
    return handle, optuna.create_study(study_name="s", storage=handle.storage)


def _running_trial(study, **attrs):
    """A RUNNING trial with one parameter and the given user attributes (as another worker leaves it)."""
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return trial


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _elsewhere(counter: int) -> dict:
    return {"avsc_machine": "other-host|boot|1", "avsc_pid": 1, "avsc_pid_ticks": 5, "avsc_heartbeat": counter}


def test_journal_counter_is_judged_on_the_observers_clock(tmp_path):
    """A counter that moves keeps the trial alive, whatever the gap; a still one for the grace period fails it."""
    from optuna.trial import TrialState

    _, study = _journal(tmp_path)
    trial = _running_trial(study, **_elsewhere(1))
    clock = Clock()
    watch = StaleTrialWatch("journal", clock=clock)
    assert watch.sweep(study) == []  # first sight: remembered, not judged
    clock.now += liveness.JOURNAL_GRACE_S - 1
    assert watch.sweep(study) == []
    trial.set_user_attr("avsc_heartbeat", 2)  # the worker is alive
    clock.now += 10 * liveness.JOURNAL_GRACE_S  # a long pause of the observer does not matter
    assert watch.sweep(study) == []
    clock.now += liveness.JOURNAL_GRACE_S - 1
    assert watch.sweep(study) == []
    clock.now += 2
    assert watch.sweep(study) == [trial.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[trial.number] == TrialState.FAIL
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == trial.params
    assert waiting[0].system_attrs["failed_trial"] == trial.number
    assert watch.sweep(study) == []  # nothing else to fail


def test_journal_trial_is_retried_exactly_once(tmp_path):
    from optuna.trial import TrialState

    _, study = _journal(tmp_path)
    first = _running_trial(study, **_elsewhere(1))
    clock = Clock()
    watch = StaleTrialWatch("journal", clock=clock)
    watch.sweep(study)
    clock.now += liveness.JOURNAL_GRACE_S + 1
    assert watch.sweep(study) == [first.number]

    retry = study.ask()  # pops the re-queued trial
    assert retry.params == first.params
    for key, value in _elsewhere(1).items():
        retry.set_user_attr(key, value)
    watch.sweep(study)
    clock.now += liveness.JOURNAL_GRACE_S + 1
    assert watch.sweep(study) == [retry.number]
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]  # not re-queued a second time


def test_same_machine_worker_is_judged_by_its_process(tmp_path):
    """On the observer's machine a dead (or reused) process id fails the trial at once; a live one never does."""
    from optuna.trial import TrialState

    if process_ticks(os.getpid()) is None:
        pytest.skip("no /proc: process start ticks unavailable")
    _, study = _journal(tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    me = {"avsc_machine": machine_key(), "avsc_pid": os.getpid(), "avsc_heartbeat": 0}
    alive = _running_trial(study, **me, avsc_pid_ticks=process_ticks(os.getpid()))
    reused = _running_trial(study, **me, avsc_pid_ticks=process_ticks(os.getpid()) - 1)
    dead = _running_trial(study, **me | {"avsc_pid": dead_pid}, avsc_pid_ticks=123)
    clock = Clock()
    watch = StaleTrialWatch("journal", clock=clock)
    assert watch.sweep(study) == [reused.number, dead.number]
    clock.now += 100 * liveness.JOURNAL_GRACE_S  # the counter never moves: irrelevant on the same machine
    assert watch.sweep(study) == []
    states = {t.number: t.state for t in study.get_trials()}
    assert states[alive.number] == TrialState.RUNNING


# --------------------------------------------------------------------------------------------
# RDB storage: Optuna's heartbeat, stale-trial failing and retry callback


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_rdb_stale_trial_is_failed_and_retried_once(tmp_path, monkeypatch):
    import optuna
    from optuna.trial import TrialState

    from avsc.tuning.liveness import mark_started
    from avsc.tuning.storage import open_storage

    monkeypatch.setattr(liveness, "RDB_HEARTBEAT_S", 1)
    monkeypatch.setattr(liveness, "RDB_GRACE_S", 1)
    handle = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}", tmp_path)
    study = optuna.create_study(study_name="s", storage=handle.storage)
    watch = StaleTrialWatch(handle.kind)

    first = study.ask()
    first.suggest_float("x", 0.0, 1.0)
    mark_started(handle.kind, first)  # one heartbeat, then the "worker" dies
    assert watch.sweep(study) == []
    time.sleep(2.5)  # the database's clock: more than the grace period without a heartbeat
    assert watch.sweep(study) == [first.number]

    retry = study.ask()
    assert retry.params == first.params and retry.number != first.number
    mark_started(handle.kind, retry)
    with heartbeat_for(handle.kind, retry) as hb:  # the worker's heartbeat (every RDB_HEARTBEAT_S = 1 s)
        time.sleep(2.5)
        assert watch.sweep(study) == []  # beating: alive
        hb.check()
    time.sleep(2.5)
    assert watch.sweep(study) == [retry.number]
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]
