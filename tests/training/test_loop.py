"""The training loop's MLflow side: committed epochs whose metrics a kill kept from MLflow are logged on resume."""

from __future__ import annotations

import mlflow

from avsc.training.loop import LoopState, backfill_metrics, epoch_metrics


def test_epoch_metrics_names():
    logs = {
        "loss": 1.0,
        "val_loss": 2.0,
        "val_late_accuracy": 0.5,
        "fused_loss": 0.7,
        "learning_rate": 1e-3,
        "epoch_seconds": 4.2,
    }
    assert epoch_metrics(logs) == {
        "train/loss": 1.0,
        "val/loss": 2.0,
        "val/late/accuracy": 0.5,
        "train/fused/loss": 0.7,
        "learning_rate": 1e-3,
        "time/epoch_seconds": 4.2,
    }


def test_backfill_logs_only_the_committed_epochs_mlflow_lacks():
    history = {"loss": [3.0, 2.0, 1.0], "val_accuracy": [0.1, 0.2, 0.3], "learning_rate": [1e-3, 1e-3, 5e-4]}
    state = LoopState(fingerprint="fp", epoch=3, history=history)
    with mlflow.start_run() as run:
        for step in (0, 2):  # epoch 1 was committed, then the process was killed before logging it
            mlflow.log_metrics(epoch_metrics({k: v[step] for k, v in history.items()}), step=step)
        assert backfill_metrics(state) == [1]
        assert backfill_metrics(state) == []
    client = mlflow.MlflowClient()
    for key, values in (("train/loss", history["loss"]), ("val/accuracy", history["val_accuracy"])):
        metrics = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in metrics] == [0, 1, 2]
        assert [m.value for m in metrics] == values


def test_backfill_without_an_active_run_does_nothing():
    assert backfill_metrics(LoopState(fingerprint="fp", epoch=1, history={"loss": [1.0]})) == []
