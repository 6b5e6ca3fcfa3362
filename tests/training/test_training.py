"""The training stages on tiny cached features: MLflow run, saved model, determinism, resume, fusion."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from avsc.config.settings import load_params

PIPELINE_RUN = "test-pipeline-0001"


@pytest.fixture(scope="module")
def train_ws(features_workspace, tmp_path_factory, tiny_secrnn) -> Path:
    """A private copy of the features workspace for this module's training stages (test-size SE-CRNN)."""
    return tiny_secrnn(shutil.copytree(features_workspace, tmp_path_factory.mktemp("train") / "repo"))


@pytest.fixture
def stage_env(monkeypatch):
    def use(root: Path):
        monkeypatch.setenv("AVSC_ROOT", str(root))
        monkeypatch.setenv("AVSC_PIPELINE_RUN", PIPELINE_RUN)
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
    from avsc.models.saving import MODEL_FILE, model_dir
    from avsc.systems.base import STAGES
    from avsc.training.stages import run_training_stage

    if not (model_dir(params, root, STAGES[step]) / MODEL_FILE).is_file():
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
    assert not list((train_ws / "checkpoints" / "train_audio").iterdir())  # cleared when done

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
    assert tags["profile"] == "default"
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.digest == tags["dataset_hash"][:36]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "train"
    parent = client.get_run(tags["mlflow.parentRunId"])
    assert parent.data.tags["stage"] == "pipeline" and parent.info.run_name.startswith("secrnn · default · synthetic")
    assert parent.data.params["system"] == "secrnn"
    assert parent.data.params["train_audio.learning_rate"] == str(params.train_audio.learning_rate)
    assert tags["dataset_hash"] == json.loads((train_ws / "data" / "manifest.json").read_text())["dataset_hash"]
    val_acc = client.get_metric_history(run.info.run_id, "val/accuracy")
    assert sorted(m.step for m in val_acc) == [0, 1]
    assert [m.value for m in sorted(val_acc, key=lambda m: m.step)] == pytest.approx(
        [h["val_accuracy"] for h in history]
    )
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
        if key == "epoch_seconds":  # wall clock, the one key that may differ
            continue
        np.testing.assert_allclose(first.history[key], second.history[key], rtol=1e-5, err_msg=key)


def _with_epochs(features_workspace: Path, tmp_path: Path, epochs: int) -> Path:
    root = shutil.copytree(features_workspace, tmp_path / "repo")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["train_visual"]["epochs"] = epochs
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    return root


def _committed(root: Path) -> dict:
    """The state of the checkpoint the pointer names."""
    from avsc.training.checkpoints import POINTER

    folder = root / "checkpoints" / "train_visual"
    pointer = json.loads((folder / POINTER).read_text())
    return json.loads((folder / pointer["dir"] / "state.json").read_text())


def _assert_every_epoch_once(root: Path, summary: dict, *, run_id: str, epochs: int, kept: dict) -> None:
    """No epoch repeated or lost: the model's history, the MLflow run's curves, the same run throughout."""
    assert summary["epochs_run"] == epochs
    assert summary["run_id"] == run_id
    history = json.loads((root / "models" / "train_visual" / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(epochs))
    done = len(kept["history"]["val_accuracy"])
    assert [h["val_accuracy"] for h in history[:done]] == pytest.approx(kept["history"]["val_accuracy"])
    client, _, runs = _runs("train_visual")
    assert [r.info.run_id for r in runs] == [run_id]
    assert runs[0].info.status == "FINISHED"
    assert runs[0].data.params["train.epochs"] == str(epochs)
    for key in ("val/accuracy", "train/loss", "learning_rate"):
        steps = [m.step for m in client.get_metric_history(run_id, key)]
        assert sorted(steps) == list(range(epochs)), f"{key}: steps {sorted(steps)}"
    assert not list((root / "checkpoints" / "train_visual").iterdir())


@pytest.mark.slow
def test_train_visual_resumes_after_a_kill(features_workspace, tmp_path, stage_env, caplog):
    from avsc.training.checkpoints import POINTER
    from avsc.training.stages import run_training_stage

    epochs = 6
    root = _with_epochs(features_workspace, tmp_path, epochs)
    params = stage_env(root)
    pointer = root / "checkpoints" / "train_visual" / POINTER
    script = Path(__file__).resolve().parents[2] / "pipelines" / "train_visual.py"
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not pointer.is_file():
            assert proc.poll() is None, f"stage ended before the kill: {proc.stderr.read().decode()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    killed = _committed(root)
    assert 1 <= killed["epoch"] < epochs
    assert len(killed["history"]["val_accuracy"]) == killed["epoch"]
    assert not (root / "models" / "train_visual").exists()

    caplog.set_level(logging.INFO, logger="avsc.training.stages")
    summary = run_training_stage(params, root, "visual")
    assert f"resuming from epoch {killed['epoch']}" in caplog.text
    _assert_every_epoch_once(root, summary, run_id=killed["run_id"], epochs=epochs, kept=killed)


@pytest.mark.slow
def test_train_visual_resumes_after_a_crash_between_checkpoint_writes(features_workspace, tmp_path, stage_env, caplog):
    """The epoch-2 folder is complete but the pointer still names epoch 1: resume from 1, train epoch 2 once."""
    import avsc.training.checkpoints as checkpoints_module
    from avsc.training.checkpoints import POINTER
    from avsc.training.stages import run_training_stage

    root = _with_epochs(features_workspace, tmp_path, 3)
    params = stage_env(root)
    real = checkpoints_module.atomic_write_text
    commits = []

    def crash_on_second_pointer(path, text):
        if Path(path).name == POINTER:
            commits.append(json.loads(text)["dir"])
            if len(commits) == 2:
                raise RuntimeError("simulated crash before the pointer is replaced")
        real(path, text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoints_module, "atomic_write_text", crash_on_second_pointer)
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_training_stage(params, root, "visual")
    folder = root / "checkpoints" / "train_visual"
    assert commits == ["epoch-0001", "epoch-0002"]
    assert (folder / "epoch-0002" / "state.json").is_file()
    killed = _committed(root)
    assert killed["epoch"] == 1

    caplog.set_level(logging.INFO, logger="avsc.training.stages")
    summary = run_training_stage(params, root, "visual")
    assert "resuming from epoch 1" in caplog.text
    _assert_every_epoch_once(root, summary, run_id=killed["run_id"], epochs=3, kept=killed)


@pytest.mark.slow
@pytest.mark.parametrize("change", ["visual features recomputed", "dataset changed"])
def test_fit_never_resumes_onto_other_features_or_data(features_workspace, tmp_path, stage_env, caplog, change):
    from avsc.training.checkpoints import Checkpoints
    from avsc.training.stages import fit

    root = _with_epochs(features_workspace, tmp_path, 1)
    params = stage_env(root)
    caplog.set_level(logging.INFO, logger="avsc.training.stages")
    fit(params, root, "visual", checkpoints=Checkpoints(tmp_path / "ck"), log_mlflow=False)
    _, state = fit(params, root, "visual", checkpoints=Checkpoints(tmp_path / "ck"), log_mlflow=False)
    assert "resuming from epoch 1" in caplog.text and state.epoch == 1  # same features: resumes
    caplog.clear()

    if change == "visual features recomputed":  # e.g. by other feature code: the store's fingerprint changes
        path = root / "data" / "features" / "visual" / "manifest.json"
        key = "fingerprint"
    else:
        path = root / "data" / "manifest.json"
        key = "dataset_hash"
    manifest = json.loads(path.read_text())
    manifest[key] = "0123456789abcdef"
    path.write_text(json.dumps(manifest))
    _, state = fit(params, root, "visual", checkpoints=Checkpoints(tmp_path / "ck"), log_mlflow=False)
    assert "resuming" not in caplog.text
    assert state.epoch == 1 and len(state.history["val_accuracy"]) == 1


@pytest.mark.slow
def test_fusion_and_finetune(train_ws, stage_env):
    from avsc.models.saving import load_keras_model
    from avsc.systems.secrnn import HEADS as OUTPUT_KEYS
    from avsc.training.stages import run_training_stage

    params = stage_env(train_ws)
    _ensure(params, train_ws, "audio")
    _ensure(params, train_ws, "visual")
    x = {
        "audio": np.random.default_rng(0).standard_normal((3, 64, 50, 3)).astype(np.float32),
        "visual": np.random.default_rng(1).standard_normal((3, 5, 512)).astype(np.float32),
    }
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
        assert "val/late/accuracy" in runs[0].data.metrics and "time/epoch_seconds" in runs[0].data.metrics


@pytest.mark.slow
def test_train_visual_sigterm_commits_exits_143_and_resumes_into_the_same_run(
    features_workspace, tmp_path, stage_env, caplog
):
    """SIGTERM (what systemd, Slurm, `docker stop` send) after an epoch is committed: a clean exit."""
    from avsc.training.checkpoints import POINTER
    from avsc.training.stages import run_training_stage

    epochs = 6
    root = _with_epochs(features_workspace, tmp_path, epochs)
    params = stage_env(root)
    pointer = root / "checkpoints" / "train_visual" / POINTER
    script = Path(__file__).resolve().parents[2] / "pipelines" / "train_visual.py"
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not pointer.is_file():
            assert proc.poll() is None, f"stage ended before SIGTERM: {proc.stderr.read().decode()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group, as a service manager does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode()
    assert proc.returncode == 143, err[-3000:]
    assert "stage train_visual: terminated (SIGTERM)" in err
    assert "Traceback" not in err
    killed = _committed(root)
    assert 1 <= killed["epoch"] < epochs
    assert len(killed["history"]["val_accuracy"]) == killed["epoch"]
    assert not (root / "models" / "train_visual").exists()
    client, _, runs = _runs("train_visual")
    assert [r.info.run_id for r in runs] == [killed["run_id"]]
    assert runs[0].info.status == "KILLED"
    steps = [m.step for m in client.get_metric_history(killed["run_id"], "learning_rate")]
    assert sorted(steps) == list(range(killed["epoch"]))  # the committed epochs' metrics were logged before exit

    caplog.set_level(logging.INFO, logger="avsc.training")
    summary = run_training_stage(params, root, "visual")
    assert f"resuming from epoch {killed['epoch']}" in caplog.text
    assert "logged the metrics of committed epoch" not in caplog.text  # nothing to backfill
    _assert_every_epoch_once(root, summary, run_id=killed["run_id"], epochs=epochs, kept=killed)
