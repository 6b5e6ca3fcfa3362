"""A trained trial's value survives bookkeeping errors (real journal storage, real MLflow store)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from avsc.tuning.objective import Outcome, record_outcome

COMPLETE = Outcome("COMPLETE", 0.75, 0.5, 2, 3)


@pytest.fixture
def no_backoff(monkeypatch):
    import time

    monkeypatch.setattr(time, "sleep", lambda s: None)  # tenacity's back-off sleeps through time.sleep


def _study(tmp_path: Path, name: str = "s"):
    import optuna

    from avsc.tuning.storage import open_storage

    handle = open_storage(f"journal:{tmp_path / 'journal.log'}", tmp_path)
    return optuna.create_study(study_name=name, storage=handle.storage, load_if_exists=True)


def _trial(study):
    trial = study.ask()
    trial.suggest_float("train_visual.learning_rate", 1e-4, 1e-2, log=True)
    return trial


def _flaky(fn, failures: int, exc: Exception):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc
        return fn(*args, **kwargs)

    return wrapper


def test_value_recorded_through_storage_hiccups(tmp_path, monkeypatch, no_backoff):
    study = _study(tmp_path)
    trial = _trial(study)
    monkeypatch.setattr(study, "tell", _flaky(study.tell, 2, OSError("journal on NFS went away")))
    monkeypatch.setattr(trial, "set_user_attr", _flaky(trial.set_user_attr, 1, OSError("hiccup")))
    record_outcome(study, trial, COMPLETE)
    stored = study.trials[trial.number]
    assert stored.state.name == "COMPLETE" and stored.value == 0.75
    assert stored.user_attrs["best_epoch"] == 2 and stored.user_attrs["val_accuracy"] == 0.5


def test_trial_failed_meanwhile_by_another_worker_keeps_its_value(tmp_path, caplog):
    """Another worker judged the trial dead while it trained: the result becomes a new COMPLETE trial."""
    import optuna
    from optuna.trial import TrialState

    from avsc.tuning import liveness

    study = _study(tmp_path)
    trial = _trial(study)
    trial.set_user_attr("avsc_machine", "far-away|boot|1")  # judged by its heartbeat counter, which stalls
    clock = [0.0]
    watch = liveness.StaleTrialWatch("journal", clock=lambda: clock[0])
    watch.sweep(_study(tmp_path))
    clock[0] += liveness.JOURNAL_GRACE_S + 1
    assert watch.sweep(_study(tmp_path)) == [trial.number]  # a second process's view of the same journal
    with caplog.at_level(logging.WARNING, logger="avsc.tuning.objective"):
        record_outcome(study, trial, COMPLETE)
    trials = _study(tmp_path).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING, TrialState.COMPLETE]
    recovered = trials[2]
    assert recovered.value == 0.75 and recovered.params == trial.params
    assert recovered.user_attrs["avsc_recovered_from"] == trial.number
    assert isinstance(recovered.distributions["train_visual.learning_rate"], optuna.distributions.FloatDistribution)
    assert "marked FAIL by another worker; recording its result as a new trial" in caplog.text


def test_storage_down_after_training_raises_and_logs_the_value(tmp_path, monkeypatch, no_backoff, caplog):
    study = _study(tmp_path)
    trial = _trial(study)

    def down(*args, **kwargs):
        raise OSError("storage unreachable")

    monkeypatch.setattr(study, "tell", down)
    with caplog.at_level(logging.ERROR), pytest.raises(OSError, match="storage unreachable"):
        record_outcome(study, trial, COMPLETE)
    assert f"trial {trial.number}: could not record its result (val log-loss 0.75" in caplog.text
    assert _study(tmp_path).trials[trial.number].state.name == "RUNNING"  # never FAIL with a known value


def _run(tmp_path: Path, study, monkeypatch, train):
    from avsc.config.settings import Params
    from avsc.tracking.service import ensure_experiment
    from avsc.tuning import objective
    from avsc.tuning.options import TuneOptions
    from avsc.tuning.space import search_space

    ensure_experiment("tune-test", tmp_path)  # this test's store (an earlier test may have pointed MLflow elsewhere)
    monkeypatch.setattr(objective, "train", train)
    opts = TuneOptions("s", "visual", 1, None, 3, "journal:journal.log")
    params = Params()
    trial = study.ask()
    state = objective.run_trial(
        study,
        "journal",
        trial,
        params=params,
        root=tmp_path,
        opts=opts,
        validation=((), ()),
        space=search_space(params),
    )
    return state, study.trials[trial.number]


def test_mlflow_failure_after_training_does_not_fail_the_trial(tmp_path, monkeypatch):
    import mlflow

    def broken(*args, **kwargs):
        raise RuntimeError("tracking server down")

    def train(*args, **kwargs):
        monkeypatch.setattr(mlflow, "log_metrics", broken)
        monkeypatch.setattr(mlflow, "set_tag", broken)
        return COMPLETE

    study = _study(tmp_path)
    state, stored = _run(tmp_path, study, monkeypatch, train)
    assert state == "COMPLETE"
    assert stored.state.name == "COMPLETE" and stored.value == 0.75
    assert set(stored.params) == {
        "train_visual.learning_rate",
        "train_visual.mixup_alpha",
        "model.secrnn.visual.gru_units",
    }
    assert mlflow.active_run() is None


def test_training_error_fails_the_trial(tmp_path, monkeypatch):
    def train(*args, **kwargs):
        raise ValueError("features missing")

    study = _study(tmp_path)
    state, stored = _run(tmp_path, study, monkeypatch, train)
    assert state == "FAIL"
    assert stored.state.name == "FAIL"
    assert stored.user_attrs["avsc_failure"] == "ValueError: features missing"
    runs = mlflow_runs()
    assert [(r.data.tags["optuna_state"], r.info.status) for r in runs] == [("FAIL", "FAILED")]


def mlflow_runs():
    import mlflow

    return mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.stage = 'tune_trial'", output_format="list"
    )
