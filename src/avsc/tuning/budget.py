"""The study's trial budget: ``--n-trials N`` ends with exactly N finished trials across all workers.

Optuna's ``MaxTrialsCallback`` is not used: it counts *after* a trial finishes and can only stop
``Study.optimize``, so concurrent workers overshoot by up to one trial each. Here "count the
trials, then ask a new one" is one critical section across the study's workers (hand-made because
Optuna has no such guarantee): a PostgreSQL advisory lock, or Optuna's ``O_EXCL`` lock file beside a
journal / SQLite file (not the journal's own lock: ``study.ask`` takes that one itself).
"""

from __future__ import annotations

import contextlib
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

from avsc.tuning.liveness import StaleTrialWatch, mark_started
from avsc.tuning.retries import retry
from avsc.tuning.storage import StorageHandle, file_lock

DONE = "done"  # the study has its N finished trials
WAIT = "wait"  # N are finished or running: wait for the running ones (one may die and be re-queued)
WAIT_POLL_S = 2.0


@contextlib.contextmanager
def reservation_lock(handle: StorageHandle, study_name: str) -> Iterator[None]:
    """Serialise "count the trials, then ask a new one" across the workers of one study."""
    if handle.kind != "postgresql":
        with file_lock(handle.lock_base):
            yield
        return
    from sqlalchemy import text

    key = zlib.crc32(f"avsc-tune:{study_name}".encode()) & 0x7FFFFFFF
    with handle.storage.engine.connect() as conn:  # the lock dies with the connection of a killed worker
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def count_finished(study: Any) -> int:
    """Trials that use up the budget: complete or pruned."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def next_trial(
    study: Any,
    handle: StorageHandle,
    *,
    study_name: str,
    n_trials: int | None,
    sampler_seed: int,
    watch: StaleTrialWatch,
) -> Any:
    """Reserve the next trial, or return :data:`DONE` / :data:`WAIT`.

    Trials of dead workers are failed first (and re-queued once); a re-queued trial is what the
    next ``study.ask`` returns, so it takes the dead trial's place in the budget.
    """
    import optuna
    from optuna.trial import TrialState

    watch.sweep(study)
    with reservation_lock(handle, study_name):
        trials = study.get_trials(deepcopy=False)
        if n_trials is not None:
            done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if done >= n_trials:
                return DONE
            if done + running >= n_trials:
                return WAIT
        # One seeded sampler per trial number: a single worker's study is reproducible, and
        # concurrent workers never draw the same startup configuration.
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed + len(trials))
        with warnings.catch_warnings():  # ask/tell with RDB heartbeats is what avsc wants: no warning
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
            trial = retry(study.ask, what="study.ask")
        mark_started(handle.kind, trial)  # before another worker can see the trial without a heartbeat
        return trial
