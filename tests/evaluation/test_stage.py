"""The evaluate stage on the trained synthetic workspace: reports, predictions, plots, MLflow run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from avsc.data.tau import CLASSES

HEADS = ("audio", "visual", "early", "late")


@pytest.fixture
def evaluate_dir(trained_workspace):
    return trained_workspace.root / "reports" / "evaluate"


def _n_eval_clips(root) -> int:
    table = pd.read_csv(root / "data" / "tau-synthetic" / "evaluation_setup" / "fold1_evaluate.csv", sep="\t")
    return len(table)


def test_metrics_json(evaluate_dir, trained_workspace):
    doc = json.loads((evaluate_dir / "metrics.json").read_text())
    assert 0.0 <= doc["accuracy"] <= 1.0
    assert doc["logloss"] > 0
    assert set(doc["per_class"]) == set(CLASSES)
    numbers = pd.json_normalize(doc).iloc[0]
    assert all(v is None or isinstance(v, int | float) for v in numbers), "metrics.json holds numbers only"
    info = json.loads((evaluate_dir / "run.json").read_text())
    assert info["data"] == "synthetic" and info["system"] == "secrnn" and info["final_head"] == "late"
    assert info["n_segments"] == doc["n_segments"] and doc["n_skipped"] == 0
    for values in doc["per_class"].values():
        assert values["accuracy"] is None or 0.0 <= values["accuracy"] <= 1.0
    assert set(HEADS) <= set(doc["heads"])
    for head in HEADS:
        assert 0.0 <= doc["heads"][head]["accuracy"] <= 1.0
        assert doc["heads"][head]["logloss"] > 0
    # the top level is the final (late) head
    assert doc["logloss"] == pytest.approx(doc["heads"]["late"]["logloss"])
    assert doc["n_segments"] == _n_eval_clips(trained_workspace.root) * 3


def test_predictions_csv(evaluate_dir, trained_workspace):
    lines = (evaluate_dir / "predictions.csv").read_text().splitlines()
    assert lines[0] == "\t".join(["filename", "segment", "scene_label", *CLASSES])
    frame = pd.read_csv(evaluate_dir / "predictions.csv", sep="\t")
    n_clips = _n_eval_clips(trained_workspace.root)
    assert len(frame) == n_clips * 3
    assert frame["filename"].nunique() == n_clips
    assert sorted(frame["segment"].unique().tolist()) == [0, 1, 2]
    assert (frame.groupby("filename")["segment"].apply(sorted).apply(list) == [[0, 1, 2]] * n_clips).all()
    assert frame["scene_label"].isin(CLASSES).all()
    proba = frame[list(CLASSES)].to_numpy()
    assert proba.sum(axis=1) == pytest.approx([1.0] * len(frame), abs=1e-5)
    assert (frame["scene_label"] == [CLASSES[i] for i in proba.argmax(axis=1)]).all()


def test_plots_and_comparison(evaluate_dir):
    for name in ("confusion_matrix.png", "per_class_accuracy.png"):
        data = (evaluate_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    text = (evaluate_dir / "comparison.md").read_text()
    assert "synthetic" in text.lower() and "Warning" in text


def test_evaluate_mlflow_run(trained_workspace, monkeypatch):
    import mlflow

    from avsc.tracking.service import configure

    trained_workspace.use(monkeypatch)
    configure()
    doc = json.loads((trained_workspace.root / "reports" / "evaluate" / "metrics.json").read_text())
    doc |= json.loads((trained_workspace.root / "reports" / "evaluate" / "run.json").read_text())
    runs = mlflow.search_runs(experiment_names=["avsc"], filter_string="tags.stage = 'evaluate'", output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["logloss"] == pytest.approx(doc["logloss"])
    assert metrics["accuracy"] == pytest.approx(doc["accuracy"])
    for head in HEADS:
        assert f"{head}/accuracy" in metrics and f"{head}/logloss" in metrics
    assert metrics["late/accuracy"] == pytest.approx(doc["heads"]["late"]["accuracy"])
    assert run.data.tags["data"] == "synthetic"
    assert run.data.tags["dataset_hash"] == doc["dataset_hash"]
    parent = mlflow.MlflowClient().get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.metrics["logloss"] == pytest.approx(doc["logloss"])
    assert parent.data.metrics["accuracy"] == pytest.approx(doc["accuracy"])
    assert parent.data.metrics["late/accuracy"] == pytest.approx(doc["heads"]["late"]["accuracy"])
    assert parent.info.status == "FINISHED" and parent.info.end_time >= parent.info.start_time
    (evaluated,) = run.inputs.dataset_inputs
    assert evaluated.dataset.digest == doc["dataset_hash"][:36]
    assert {t.key: t.value for t in evaluated.tags}["n_evaluate"] == str(doc["n_clips"])
    experiment = mlflow.get_experiment_by_name("avsc")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluate")}
    assert "evaluate/metrics.json" in artifacts and "evaluate/predictions.csv" in artifacts
