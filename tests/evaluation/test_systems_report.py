"""The systems report lists every system evaluated in the store, and nothing it does not."""

from __future__ import annotations

import csv
import io

import mlflow
import pytest

from avsc.data.tau import CLASSES
from avsc.evaluation.systems_report import collect, render_markdown, write_report


def _evaluate_run(exp_id: str, *, system: str, final: str, heads: dict[str, tuple[float, float]], data: str = "tau"):
    with mlflow.start_run(experiment_id=exp_id, run_name="evaluate") as run:
        mlflow.set_tags(
            {"stage": "evaluate", "system": system, "final_head": final, "data": data, "profile": "default"}
        )
        metrics = {"params_total": 1000.0, "params_trainable": 400.0}
        for head, (logloss, accuracy) in heads.items():
            metrics[f"{head}/logloss"], metrics[f"{head}/accuracy"] = logloss, accuracy
        for i, c in enumerate(CLASSES):
            metrics[f"{final}/accuracy/{c}"] = i / 10
        mlflow.log_metrics(metrics)
    return run.info.run_id


def _training_run(exp_id: str, *, system: str, stage: str, seconds: float) -> None:
    with mlflow.start_run(experiment_id=exp_id, run_name=stage):
        mlflow.set_tags({"stage": stage, "system": system})
        mlflow.log_metric("time/seconds_per_epoch", seconds)


def test_lists_found_systems_only_with_their_numbers(tmp_path):
    exp_id = mlflow.create_experiment("avsc")
    _evaluate_run(
        exp_id, system="secrnn", final="late", heads={"audio": (2.0, 0.3), "late": (1.2, 0.6)}, data="synthetic"
    )
    newer = _evaluate_run(exp_id, system="joint", final="fused", heads={"fused": (0.9, 0.7), "audio": (1.5, 0.4)})
    _training_run(exp_id, system="joint", stage="train_fusion", seconds=12.5)
    with mlflow.start_run(experiment_id=exp_id):  # an unfinished evaluate run is not a result
        mlflow.set_tags({"stage": "evaluate", "system": "dualstream"})
        mlflow.log_metric("fused/accuracy", 0.99)
        mlflow.end_run(status="FAILED")

    results = collect(mlflow.MlflowClient(), exp_id)
    assert list(results) == ["secrnn", "joint"]
    assert results["joint"].run_id == newer
    assert results["joint"].heads["fused"] == {"logloss": 0.9, "accuracy": 0.7}
    assert results["joint"].seconds_per_epoch == {"train_fusion": 12.5}
    assert results["secrnn"].params_total == 1000 and results["secrnn"].per_class["tram"] == pytest.approx(0.9)

    text = render_markdown(results)
    assert "dualstream" not in text and "Dual-stream" not in text
    assert "**secrnn** (this project) | synthetic" in text and "| 1.200 | 60.0 |" in text
    assert "**joint** (this project) | tau" in text and "| 0.900 | 70.0 |" in text
    assert "Joint optimization, scalogram + EfficientNetV2-S (published) | TAU | paper | – | 0.1517 | 94.59" in text
    assert "SE-CRNN, late fusion, gammatone (published)" in text
    assert "Warning — synthetic data" in text
    assert "| joint | – | – | 12.5 | – |" in text

    write_report(results, tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "systems.csv").read_text())))
    assert {(r["system"], r["head"]) for r in rows} == {
        ("secrnn", "audio"),
        ("secrnn", "late"),
        ("joint", "audio"),
        ("joint", "fused"),
    }
    per_class = list(csv.DictReader(io.StringIO((tmp_path / "systems_per_class.csv").read_text())))
    assert len(per_class) == 20


def test_an_empty_store_says_so():
    exp_id = mlflow.create_experiment("avsc")
    results = collect(mlflow.MlflowClient(), exp_id)
    assert results == {} and "No evaluated system yet" in render_markdown(results)
