"""``avsc tune``: a real small study, concurrent workers (journal and PostgreSQL), a killed worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

VISUAL_KEYS = {"train_visual.learning_rate", "train_visual.mixup_alpha", "model.secrnn.visual.gru_units"}


def _journal_study(root: Path, name: str):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(root / "mlruns" / "optuna-journal.log")))
    return optuna.load_study(study_name=name, storage=storage)


def _trial_runs(name: str):
    import mlflow

    from avsc.tracking.service import configure

    configure()
    return mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.optuna_study = '{name}'", output_format="list"
    )


def _tune_cmd(name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "avsc", "tune", "--study-name", name, "--target", "visual", *extra]


def _popen(cmd: list[str], root: Path, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "AVSC_ROOT": str(root), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def _wait(procs: list[subprocess.Popen], logs: list[Path], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    for proc, log_path in zip(procs, logs):
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"avsc tune did not finish:\n{log_path.read_text()[-3000:]}")
        assert proc.returncode == 0, f"exit {proc.returncode}:\n{log_path.read_text()[-4000:]}"


def test_small_study_journal(tune_workspace, capsys):
    """3 trials x 2 epochs, median pruning, default journal storage; MLflow, params-best.yaml, dvc line."""
    import mlflow

    from avsc.cli import main

    code = main(["tune", "--study-name", "small", "--n-trials", "3", "--max-epochs", "2", "--target", "visual"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tune_workspace / "mlruns" / "optuna-journal.log").is_file()

    study = _journal_study(tune_workspace, "small")
    states = [t.state.name for t in study.trials]
    assert len(states) == 3 and set(states) <= {"COMPLETE", "PRUNED"}, states
    assert states.count("COMPLETE") >= 1
    assert set(study.best_params) == VISUAL_KEYS
    space = {"lr": (1e-4, 1e-2), "gru": {16, 32, 64}}
    for t in study.trials:
        assert space["lr"][0] <= t.params["train_visual.learning_rate"] <= space["lr"][1]
        assert t.params["model.secrnn.visual.gru_units"] in space["gru"]
        assert 0 <= t.params["train_visual.mixup_alpha"] <= 1
        assert len(t.intermediate_values) >= 1  # per-epoch log-loss reported to the pruner

    best_file = tune_workspace / "params-best.yaml"
    best = yaml.safe_load(best_file.read_text())
    assert set(best) == VISUAL_KEYS
    assert best == pytest.approx(study.best_params)
    line = next(x for x in out.splitlines() if "dvc exp run" in x)
    for key in VISUAL_KEYS:
        assert f"-S '{key}=" in line
    lr = re.search(r"-S 'train_visual\.learning_rate=([0-9.]+)'", line).group(1)
    assert float(lr) == study.best_params["train_visual.learning_rate"]  # exact, no rounding
    assert "e-" not in line
    assert re.search(r"pruning saved \d+ epoch", out)
    assert re.search(r"complete \d+\s+pruned \d+\s+failed 0", out)

    runs = _trial_runs("small")
    trial_runs = [r for r in runs if r.data.tags.get("stage") == "tune_trial"]
    parents = [r for r in runs if r.data.tags.get("stage") == "tune"]
    assert len(parents) == 1 and len(trial_runs) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert sorted(int(r.data.tags["optuna_trial"]) for r in trial_runs) == [0, 1, 2]
    by_number = {t.number: t for t in study.trials}
    client = mlflow.MlflowClient()
    for r in trial_runs:
        t = by_number[int(r.data.tags["optuna_trial"])]
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.data.tags["optuna_state"] == t.state.name
        assert set(VISUAL_KEYS) <= set(r.data.params)
        assert float(r.data.params["train_visual.learning_rate"]) == t.params["train_visual.learning_rate"]
        history = client.get_metric_history(r.info.run_id, "val/logloss")
        assert len(history) == len(t.intermediate_values)
        assert "train/loss" in r.data.metrics and "val/accuracy" in r.data.metrics
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"best_params.json", "optimization_history.png"} <= artifacts
    if states.count("COMPLETE") >= 2:
        assert "param_importances.png" in artifacts
    local = Path(mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="best_params.json"))
    assert json.loads(local.read_text())["best_params"] == pytest.approx(study.best_params)


def test_fusion_needs_trained_models(tune_workspace):
    from avsc.config.settings import load_params
    from avsc.errors import AvscError
    from avsc.tuning.worker import check_prerequisites

    with pytest.raises(AvscError, match="dvc repro train_audio train_visual"):
        check_prerequisites(load_params(tune_workspace / "params.yaml"), tune_workspace, "fusion")


def test_dvc_line_and_params_mapping():
    from avsc.config.settings import Params
    from avsc.tuning.space import apply_values, dvc_exp_line

    line = dvc_exp_line({"train_visual.learning_rate": 1.2345e-05, "model.secrnn.visual.gru_units": 16})
    assert line == "dvc exp run -S 'model.secrnn.visual.gru_units=16' -S 'train_visual.learning_rate=0.000012345'"
    p = apply_values(
        Params(), {"train_fusion.mixup_alpha": 0.1, "model.secrnn.fusion.gru_units": 128}, target="fusion", max_epochs=3
    )
    assert (p.train_fusion.mixup_alpha, p.model.secrnn.fusion.gru_units, p.train_fusion.epochs) == (0.1, 128, 3)


def _two_workers(root: Path, tmp_path: Path, name: str, *extra: str) -> None:
    cmd = _tune_cmd(name, "--n-trials", "4", "--max-epochs", "1", *extra)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs = [_popen(cmd, root, logs[0]), _popen(cmd, root, logs[1])]
    _wait(procs, logs)
    for log_path in logs:
        assert "dvc exp run" in log_path.read_text()


def _check_four(study, name: str) -> None:
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4, [(t.number, t.state.name) for t in study.trials]
    assert len({t.number for t in finished}) == 4
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "FAIL")]
    trial_runs = [r for r in _trial_runs(name) if r.data.tags.get("stage") == "tune_trial"]
    assert sorted(int(r.data.tags["optuna_trial"]) for r in trial_runs) == sorted(t.number for t in finished)
    assert {r.data.tags["optuna_state"] for r in trial_runs} <= {"COMPLETE", "PRUNED"}
    assert len({r.data.tags["mlflow.parentRunId"] for r in trial_runs}) == 2  # one parent run per worker


@pytest.mark.slow
def test_two_workers_journal(tune_workspace, tmp_path):
    _two_workers(tune_workspace, tmp_path, "par")
    _check_four(_journal_study(tune_workspace, "par"), "par")


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_postgres(tune_workspace, tmp_path, postgres_url):
    import optuna

    from avsc.tuning.storage import normalize_rdb_url

    _two_workers(tune_workspace, tmp_path, "pg", "--storage", postgres_url)
    _check_four(optuna.load_study(study_name="pg", storage=normalize_rdb_url(postgres_url)), "pg")


@pytest.mark.slow
def test_killed_worker_leaves_study_usable(tune_workspace, tmp_path):
    """kill -9 during the first trial; a second worker fails and re-queues it, then finishes the study."""
    journal = tune_workspace / "mlruns" / "optuna-journal.log"
    first = _popen(_tune_cmd("kill", "--n-trials", "2", "--max-epochs", "1"), tune_workspace, tmp_path / "w1.log")
    deadline = time.monotonic() + 120
    running = None
    try:
        while time.monotonic() < deadline and running is None:
            time.sleep(0.5)
            assert first.poll() is None, (tmp_path / "w1.log").read_text()[-3000:]
            if journal.is_file():
                try:
                    study = _journal_study(tune_workspace, "kill")
                except KeyError:
                    continue
                running = next(
                    (t for t in study.trials if t.state.name == "RUNNING" and "train_visual.learning_rate" in t.params),
                    None,
                )
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert running is not None, "the first worker never started a trial"
    assert _journal_study(tune_workspace, "kill").trials[running.number].state.name == "RUNNING"

    second = _popen(_tune_cmd("kill", "--n-trials", "2", "--max-epochs", "1"), tune_workspace, tmp_path / "w2.log")
    _wait([second], [tmp_path / "w2.log"])
    study = _journal_study(tune_workspace, "kill")
    states = {t.number: t.state.name for t in study.trials}
    assert states[running.number] == "FAIL", states
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 2, states
    retried = [t for t in finished if t.user_attrs.get("avsc_retry_of") == running.number]
    assert len(retried) == 1 and retried[0].params == running.params
    assert study.best_trial.state.name == "COMPLETE"
    assert (tune_workspace / "params-best.yaml").is_file()


@pytest.mark.slow
def test_sigterm_stops_a_worker_cleanly_and_the_study_carries_on(tune_workspace, tmp_path):
    """SIGTERM during a trial: exit 143, the trial FAIL ("interrupted"), its runs KILLED; a new worker finishes."""
    log1 = tmp_path / "w1.log"
    first = _popen(_tune_cmd("term", "--n-trials", "1", "--max-epochs", "2"), tune_workspace, log1)
    journal = tune_workspace / "mlruns" / "optuna-journal.log"
    deadline = time.monotonic() + 120
    running = None
    try:
        while time.monotonic() < deadline and running is None:
            time.sleep(0.5)
            assert first.poll() is None, log1.read_text()[-3000:]
            if journal.is_file():
                try:
                    study = _journal_study(tune_workspace, "term")
                except KeyError:
                    continue
                running = next((t for t in study.trials if t.state.name == "RUNNING" and t.params), None)
        assert running is not None, "the worker never started a trial"
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    out = log1.read_text()
    assert first.returncode == 143, out[-3000:]
    assert "Traceback" not in out
    study = _journal_study(tune_workspace, "term")
    stopped = study.trials[running.number]
    assert stopped.state.name == "FAIL" and stopped.user_attrs["avsc_failure"] == "interrupted"
    runs = _trial_runs("term")
    assert {r.info.status for r in runs} == {"KILLED"}, [(r.info.run_name, r.info.status) for r in runs]

    second = _popen(_tune_cmd("term", "--n-trials", "1", "--max-epochs", "2"), tune_workspace, tmp_path / "w2.log")
    _wait([second], [tmp_path / "w2.log"])
    study = _journal_study(tune_workspace, "term")
    assert len([t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]) == 1  # FAIL used no budget
