"""Trial liveness: the worker's heartbeat, and failing (then retrying once) trials of dead workers.

RDB storage: Optuna's own machinery. The heartbeat is written with ``RDBStorage.record_heartbeat``
(the database stamps it with its own clock); :func:`optuna.storages.fail_stale_trials` fails
trials silent for ``RDB_GRACE_S`` and the storage's ``RetryHeartbeatStaleTrialCallback(max_retry=1)``
re-queues each once.

Journal storage has no heartbeat in Optuna, so it is hand-made here, without trusting wall clocks:
the worker writes a heartbeat *counter* (``avsc_heartbeat``) on its trial, and an observer judges a
trial dead when that counter has not moved for ``JOURNAL_GRACE_S`` of the observer's own monotonic
clock. A worker on the observer's machine is judged at once by its process id and kernel start
tick. The dead trial is failed and handed to the same Optuna retry callback as on RDB storage.

Either way the heartbeat runs in a thread the trial watches (:meth:`Heartbeat.check`, every
training batch): a thread that died is restarted with an error in the log, and after
``MAX_RESTARTS`` the trial fails loudly instead of being silently judged dead by other workers.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avsc.tuning.retries import retry

log = logging.getLogger(__name__)

RDB_HEARTBEAT_S = 10  # Optuna wants whole seconds
RDB_GRACE_S = 30
JOURNAL_HEARTBEAT_S = 10.0
JOURNAL_GRACE_S = 120.0
MAX_RESTARTS = 3
RETRIES = 1  # a trial whose worker died is run again once, then left FAIL


class HeartbeatLost(RuntimeError):
    """The heartbeat thread kept dying: the trial stops rather than be judged dead by other workers."""


# --------------------------------------------------------------------------------------------
# who runs a trial (journal storage)


def machine_key() -> str:
    """This machine and PID namespace: process ids are comparable only between equal keys."""
    boot = Path("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return f"{socket.gethostname()}|{boot.read_text().strip() if boot.is_file() else ''}|{pidns}"


def process_ticks(pid: int) -> int | None:
    """The kernel's start time of process ``pid`` in clock ticks since boot (None: no such process or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the command name may contain spaces


def worker_identity() -> dict[str, Any]:
    """User attributes naming the process that runs a trial."""
    pid = os.getpid()
    return {
        "avsc_host": socket.gethostname(),
        "avsc_machine": machine_key(),
        "avsc_pid": pid,
        "avsc_pid_ticks": process_ticks(pid),
    }


def mark_started(kind: str, trial: Any) -> None:
    """Name the worker on a fresh ``trial`` and record its first heartbeat.

    On RDB storage a trial with no heartbeat record is never judged stale by Optuna, so the first
    one is written as soon as the trial exists.
    """
    for key, value in worker_identity().items():
        retry(trial.set_user_attr, key, value, what="trial.set_user_attr")
    if kind == "journal":
        retry(trial.set_user_attr, "avsc_heartbeat", 0, what="trial.set_user_attr")
    else:
        retry(trial.storage.record_heartbeat, trial._trial_id, what="record_heartbeat")


# --------------------------------------------------------------------------------------------
# the worker's side


class Heartbeat:
    """Call ``beat`` every ``interval`` s in a thread; :meth:`check` restarts the thread if it died."""

    def __init__(self, beat: Callable[[], None], *, interval: float, name: str) -> None:
        self.beat, self.interval, self.name = beat, interval, name
        self.restarts = 0
        self.failures = 0
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.death: BaseException | None = None

    def _run(self) -> None:
        try:
            while True:
                try:
                    self.beat()
                except Exception as exc:  # a storage hiccup: log it and beat again next time
                    self.failures += 1
                    log.warning("%s: heartbeat not recorded (%s: %s)", self.name, type(exc).__name__, exc)
                if self.stop_event.wait(self.interval):
                    return
        except BaseException as exc:  # the thread ends here; check() reports it from the trial's thread
            self.death = exc

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"heartbeat {self.name}", daemon=True)
        self.thread.start()

    def check(self) -> None:
        """Restart a dead heartbeat thread (logged); raise :class:`HeartbeatLost` after ``MAX_RESTARTS``."""
        if self.thread is None or self.stop_event.is_set() or self.thread.is_alive():
            return
        cause = f"{type(self.death).__name__}: {self.death}" if self.death is not None else "no exception"
        if self.restarts >= MAX_RESTARTS:
            raise HeartbeatLost(f"{self.name}: heartbeat thread died {self.restarts + 1} times (last: {cause})")
        self.restarts += 1
        log.error("%s: heartbeat thread died (%s); restarted (%d/%d)", self.name, cause, self.restarts, MAX_RESTARTS)
        self.death = None
        self.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def heartbeat_for(kind: str, trial: Any) -> Heartbeat:
    """The heartbeat of a running ``trial`` on a storage of ``kind`` (see :class:`StorageHandle`)."""
    storage, trial_id = trial.storage, trial._trial_id  # Optuna has no public trial id
    name = f"trial {trial.number}"
    if kind == "journal":
        counter = itertools.count(1)

        def beat() -> None:
            storage.set_trial_user_attr(trial_id, "avsc_heartbeat", next(counter))

        return Heartbeat(beat, interval=JOURNAL_HEARTBEAT_S, name=name)
    return Heartbeat(lambda: storage.record_heartbeat(trial_id), interval=storage.get_heartbeat_interval(), name=name)


# --------------------------------------------------------------------------------------------
# the observer's side


class StaleTrialWatch:
    """Fails RUNNING trials whose worker is gone; one per worker process (it remembers what it saw)."""

    def __init__(self, kind: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind, self.clock = kind, clock
        self.seen: dict[int, tuple[Any, float]] = {}  # trial number -> (heartbeat counter, when first seen)
        self.here = machine_key()

    def sweep(self, study: Any) -> list[int]:
        """Fail (and re-queue once) the trials of dead workers; return their numbers."""
        import optuna
        from optuna.trial import TrialState

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if self.kind != "journal":
                optuna.storages.fail_stale_trials(study)
                now_failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
                failed = sorted({t.number for t in running} & now_failed)
            else:
                failed = [t.number for t in running if self.is_dead(t) and self._fail_and_retry(study, t)]
        self.seen = {n: v for n, v in self.seen.items() if n in {t.number for t in running}}
        for number in failed:
            log.warning(
                "trial %d: its worker stopped (no heartbeat); marked FAIL, re-queued if not yet retried", number
            )
        return failed

    def is_dead(self, trial: Any) -> bool:
        """Whether the worker of a RUNNING journal ``trial`` is gone."""
        attrs = trial.user_attrs
        ticks = attrs.get("avsc_pid_ticks")
        if attrs.get("avsc_machine") == self.here and ticks is not None:  # same machine: ask the kernel
            return process_ticks(int(attrs["avsc_pid"])) != ticks
        counter, now = attrs.get("avsc_heartbeat"), self.clock()
        last = self.seen.get(trial.number)
        if last is None or last[0] != counter:
            self.seen[trial.number] = (counter, now)
            return False
        return now - last[1] > JOURNAL_GRACE_S

    @staticmethod
    def _fail_and_retry(study: Any, trial: Any) -> bool:
        import optuna
        from optuna.storages import RetryHeartbeatStaleTrialCallback
        from optuna.trial import TrialState

        storage = study._storage  # Optuna's own fail_stale_trials works on the storage the same way
        try:
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                return False
        except optuna.exceptions.UpdateFinishedTrialError:
            return False  # another worker failed it first
        RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)(study, storage.get_trial(trial._trial_id))
        return True
