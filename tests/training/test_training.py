"""The training stages on tiny cached features: MLflow run, saved model, determinism, resume, fusion."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from avsc.config.settings import load_params

PIPELINE_RUN = "test-pipeline-0001"


@pytest.fixture(scope="module")
def train_ws(features_workspace, tmp_path_factory) -> Path:
    """A private copy of the features workspace for this module's training stages."""
    return shutil.copytree(features_workspace, tmp_path_factory.mktemp("train") / "repo")


@pytest.fixture
def stage_env(monkeypatch):
    def use(root: Path):
        monkeypatch.setenv("AVSC_ROOT", str(root))
        monkeypatch.setenv("AVSC_PIPELINE_RUN", PIPELINE_RUN)
        monkeypatch.delenv("AVSC_STOP_AFTER_EPOCH", raising=False)
        return load_params(root / "params.yaml")
    return use


def _runs(stage: str):
    import mlflow

    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("avsc")
    assert exp is not None
    return client, exp, client.search_runs([exp.experiment_id], filter_string=f"tags.stage = '{stage}'")


def _ensure(params, root: Path, step: str) -> None:
    """Run an earlier stage when its model is not there yet (tests stay runnable one at a time)."""
    from avsc.training.stages import MODEL_FILE, STEPS, model_dir, run_training_stage

    if not (model_dir(params, root, STEPS[step].stage) / MODEL_FILE).is_file():
        run_training_stage(params, root, step)


@pytest.mark.slow
def test_train_audio_stage(train_ws, stage_env):
    import keras

    from avsc.training.stages import run_training_stage

    params = stage_env(train_ws)
    summary = run_training_stage(params, train_ws, "audio")
    out = train_ws / "models" / "train_audio"
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 10)
    pred = model.predict(np.zeros((2, 64, 50, 3), np.float32), verbose=0)
    np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-5)
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [0, 1]
    assert summary["epochs_run"] == 2 and summary["data"] == "synthetic"
    assert not (train_ws / "checkpoints" / "train_audio" / "state.json").exists()  # cleared when done

    client, exp, runs = _runs("train_audio")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id == summary["run_id"]
    assert run.info.status == "FINISHED"
    assert run.data.params["train.learning_rate"] == str(params.train_audio.learning_rate)
    assert run.data.params["train.epochs"] == "2"
    assert run.data.params["seed"] == "3"
    tags = run.data.tags
    assert tags["system"] == "secrnn" and tags["data"] == "synthetic"
    assert tags["pipeline_run"] == PIPELINE_RUN
    assert tags["git_commit"]
    assert tags["dataset_hash"] == json.loads((train_ws / "data" / "manifest.json").read_text())["dataset_hash"]
    val_acc = client.get_metric_history(run.info.run_id, "val/accuracy")
    assert sorted(m.step for m in val_acc) == [0, 1]
    assert [m.value for m in sorted(val_acc, key=lambda m: m.step)] == pytest.approx(
        [h["val_accuracy"] for h in history])
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 2
    assert "best_val_accuracy" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"curves.png", "history.json"} <= artifacts
    import mlflow

    models = mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list")
    assert any(m.source_run_id == run.info.run_id and m.name == "model" for m in models)

    parent = client.get_run(tags["mlflow.parentRunId"])
    assert parent.data.tags["stage"] == "pipeline"
    assert parent.data.tags["pipeline_run"] == PIPELINE_RUN


@pytest.mark.slow
def test_fit_is_deterministic(train_ws, stage_env):
    from avsc.training.stages import fit

    params = stage_env(train_ws)
    _, first = fit(params, train_ws, "visual", checkpoints=None, log_mlflow=False)
    _, second = fit(params, train_ws, "visual", checkpoints=None, log_mlflow=False)
    assert first.epoch == second.epoch == 2
    assert sorted(first.history) == sorted(second.history)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(first.history)
    for key in first.history:
        assert len(first.history[key]) == 2
        np.testing.assert_allclose(first.history[key], second.history[key], rtol=1e-5, err_msg=key)


_RUN_VISUAL = (
    "from avsc.training.stages import run_training_stage; from avsc.config.settings import load_params, find_root; "
    "root = find_root(); run_training_stage(load_params(root / 'params.yaml'), root, 'visual')"
)


@pytest.mark.slow
def test_train_visual_resumes_after_a_kill(features_workspace, tmp_path, stage_env, caplog):
    import mlflow

    from avsc.training.stages import run_training_stage

    root = shutil.copytree(features_workspace, tmp_path / "repo")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["train_visual"]["epochs"] = 3
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    params = stage_env(root)
    env = {**os.environ, "AVSC_STOP_AFTER_EPOCH": "1"}
    proc = subprocess.run([sys.executable, "-c", _RUN_VISUAL], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 137, proc.stderr[-3000:]
    state = json.loads((root / "checkpoints" / "train_visual" / "state.json").read_text())
    assert state["epoch"] == 1
    assert len(state["history"]["val_accuracy"]) == 1
    assert (root / "checkpoints" / "train_visual" / "last.keras").is_file()
    assert not (root / "models" / "train_visual").exists()
    killed_run = state["run_id"]

    caplog.set_level(logging.INFO, logger="avsc.training.stages")
    summary = run_training_stage(params, root, "visual")
    assert "resuming from epoch 1" in caplog.text
    assert summary["epochs_run"] == 3
    assert summary["run_id"] == killed_run
    history = json.loads((root / "models" / "train_visual" / "history.json").read_text())
    assert [h["step"] for h in history] == [0, 1, 2]
    assert history[0]["val_accuracy"] == pytest.approx(state["history"]["val_accuracy"][0])

    client, _, runs = _runs("train_visual")
    assert [r.info.run_id for r in runs] == [killed_run]
    assert runs[0].info.status == "FINISHED"
    val_acc = client.get_metric_history(killed_run, "val/accuracy")
    assert sorted(m.step for m in val_acc) == [0, 1, 2]
    assert mlflow.MlflowClient().get_run(killed_run).data.params["train.epochs"] == "3"


@pytest.mark.slow
def test_fusion_and_finetune(train_ws, stage_env):
    from avsc.training.inputs import OUTPUT_KEYS
    from avsc.training.stages import load_keras_model, run_training_stage

    params = stage_env(train_ws)
    _ensure(params, train_ws, "audio")
    _ensure(params, train_ws, "visual")
    x = {"audio": np.random.default_rng(0).standard_normal((3, 64, 50, 3)).astype(np.float32),
         "visual": np.random.default_rng(1).standard_normal((3, 5, 512)).astype(np.float32)}
    for step, stage in (("fusion", "train_fusion"), ("finetune", "finetune")):
        summary = run_training_stage(params, train_ws, step)
        assert summary["stage"] == stage and summary["epochs_run"] == 1
        model = load_keras_model(train_ws / "models" / stage / "model.keras")
        out = model.predict(x, verbose=0)
        assert isinstance(out, dict)
        assert set(out) == set(OUTPUT_KEYS) == {"audio", "visual", "early", "late"}
        for key, value in out.items():
            assert value.shape == (3, 10), key
            np.testing.assert_allclose(value.sum(axis=1), 1.0, rtol=1e-4, err_msg=key)
        _, _, runs = _runs(stage)
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        assert "val/late_accuracy" in runs[0].data.metrics
