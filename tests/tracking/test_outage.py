"""The tracking server goes away during a training stage, then comes back: nothing lost, one run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from avsc.outage import is_unreachable, no_retries, outage_line

FAST_FAIL = {  # MLflow's own bounded retry, shortened for the test
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}


def test_unreachable_is_recognised_through_the_exception_chain(monkeypatch):
    import requests
    from mlflow.exceptions import MlflowException

    try:
        try:
            raise requests.exceptions.ConnectionError("Connection refused")
        except requests.exceptions.ConnectionError as exc:
            raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904 (as MLflow does)
    except MlflowException as wrapped:
        assert is_unreachable(wrapped)
    assert not is_unreachable(ValueError("bad value"))
    import mlflow

    mlflow.set_tracking_uri("http://tracking.example:5000")  # the autouse fixture resets it
    line = outage_line(RuntimeError())
    assert "tracking.example:5000" in line and "\n" not in line


def test_no_retries_restores_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    with no_retries():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "4"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def _pointer(root: Path) -> Path:
    from avsc.training.checkpoints import POINTER

    return root / "checkpoints" / "train_visual" / POINTER


def _committed(root: Path) -> dict:
    pointer = json.loads(_pointer(root).read_text())
    return json.loads((_pointer(root).parent / pointer["dir"] / "state.json").read_text())


@pytest.mark.slow
def test_server_stopped_during_training_then_restarted_resumes_into_the_same_run(
    features_workspace, tmp_path, monkeypatch, caplog, server_tools
):
    import logging

    import mlflow

    free_port, start_mlflow_server, stop_group = server_tools.free_port, server_tools.start, server_tools.stop

    from avsc.config.settings import load_params
    from avsc.training.stages import run_training_stage

    epochs = 4
    root = shutil.copytree(features_workspace, tmp_path / "repo")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["train_visual"]["epochs"] = epochs
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    port, store = free_port(), tmp_path / "server"
    uri = f"http://127.0.0.1:{port}"
    for key, value in {"MLFLOW_TRACKING_URI": uri, "AVSC_ROOT": str(root), "AVSC_PIPELINE_RUN": "outage-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AVSC_MLFLOW_ARTIFACTS", raising=False)

    server = start_mlflow_server(port, store)
    try:
        script = Path(__file__).resolve().parents[2] / "pipelines" / "train_visual.py"
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=root,
            env={**os.environ, **FAST_FAIL},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 300
            while not _pointer(root).is_file():
                assert proc.poll() is None, f"stage ended early: {proc.stderr.read().decode()[-3000:]}"
                assert time.monotonic() < deadline, "no checkpoint within 300 s"
                time.sleep(0.01)
            os.killpg(server.pid, signal.SIGKILL)  # the server goes away mid-stage, at once
            server.wait()
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        stop_group(server)
    err = err.decode()
    assert proc.returncode == 3, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("stage train_visual:")]
    assert len(lines) == 1 and f"tracking server {uri} did not answer" in lines[0], err[-3000:]
    assert "Traceback" not in err
    stopped = _committed(root)
    assert 1 <= stopped["epoch"] < epochs
    assert not (root / "models" / "train_visual").exists()

    server = start_mlflow_server(port, store)  # back on the same address and store
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        caplog.set_level(logging.INFO, logger="avsc.training")
        summary = run_training_stage(load_params(root / "params.yaml"), root, "visual")
        assert f"resuming from epoch {stopped['epoch']}" in caplog.text
        assert summary["run_id"] == stopped["run_id"] and summary["epochs_run"] == epochs
        client = mlflow.MlflowClient()
        exp = client.get_experiment_by_name("avsc")
        runs = client.search_runs([exp.experiment_id], filter_string="tags.stage = 'train_visual'")
        assert [r.info.run_id for r in runs] == [stopped["run_id"]]  # no duplicate run
        assert runs[0].info.status == "FINISHED"
        for key in ("val/accuracy", "learning_rate"):
            steps = sorted(m.step for m in client.get_metric_history(stopped["run_id"], key))
            assert steps == list(range(epochs)), f"{key}: {steps}"  # no epoch lost or repeated
        history = json.loads((root / "models" / "train_visual" / "history.json").read_text())
        assert [h["step"] for h in history] == list(range(epochs))
        kept = stopped["history"]["val_accuracy"]
        assert [h["val_accuracy"] for h in history[: len(kept)]] == pytest.approx(kept)
    finally:
        stop_group(server)
