"""A resumable training loop for Keras: LR halving on plateau, early stopping, best-weights
selection, per-epoch checkpoints and MLflow logging, all in one callback whose state is saved
with every checkpoint (Keras' own ReduceLROnPlateau/EarlyStopping lose their counters on resume).
"""

from __future__ import annotations

import logging
import time

import keras

from avsc.heads import HEAD_NAMES
from avsc.interrupts import deferred
from avsc.training.checkpoints import Checkpoints, LoopState

log = logging.getLogger(__name__)
__all__ = ["Checkpoints", "LoopState", "TrainingLoop", "backfill_metrics", "epoch_metrics"]


#: Output names of the systems' multi-output models (``val_late_accuracy`` is head ``late``).
HEADS = tuple(HEAD_NAMES)
#: Per-epoch values that are not a split's metric.
PLAIN = {"learning_rate": "learning_rate", "epoch_seconds": "time/epoch_seconds"}


def metric_name(key: str) -> str:
    """Keras log key → the project's metric name (the scheme in the README's MLflow section).

    ``loss`` → ``train/loss``; ``val_accuracy`` → ``val/accuracy``; a head's ``val_late_accuracy``
    → ``val/late/accuracy``; ``learning_rate`` stays; ``epoch_seconds`` → ``time/epoch_seconds``.
    """
    if key in PLAIN:
        return PLAIN[key]
    split, rest = ("val", key[4:]) if key.startswith("val_") else ("train", key)
    for head in HEADS:
        if rest.startswith(head + "_"):
            return f"{split}/{head}/{rest[len(head) + 1 :]}"
    return f"{split}/{rest}"


def epoch_metrics(logs: dict[str, float]) -> dict[str, float]:
    """One epoch's Keras logs (with ``learning_rate`` and ``epoch_seconds``) as MLflow metrics."""
    return {metric_name(k): float(v) for k, v in logs.items()}


def backfill_metrics(state: LoopState) -> list[int]:
    """Log to the active MLflow run the committed epochs it lacks; returns them.

    An epoch is committed (checkpointed) before its metrics are logged, so a kill in between
    leaves an epoch the resumed run will not train again: its metrics come from the checkpoint.
    """
    import mlflow

    run = mlflow.active_run()
    if run is None or not state.history:
        return []
    logged = {m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "learning_rate")}
    missing = [e for e in range(state.epoch) if e not in logged]
    for epoch in missing:
        logs = {k: v[epoch] for k, v in state.history.items() if epoch < len(v)}
        mlflow.log_metrics(epoch_metrics(logs), step=epoch)
    if missing:
        log.info("logged the metrics of committed epoch(s) %s to MLflow run %s", missing, run.info.run_id)
    return missing


class TrainingLoop(keras.callbacks.Callback):
    """Plateau LR schedule, early stopping, checkpoints and MLflow metrics in one resumable callback."""

    def __init__(
        self,
        *,
        state: LoopState,
        checkpoints: Checkpoints,
        monitor: str,
        patience_lr: int,
        factor: float,
        patience_stop: int,
        log_mlflow: bool = True,
        on_epoch=None,
    ) -> None:
        super().__init__()
        self.state = state
        self.checkpoints = checkpoints
        self.monitor = monitor
        self.patience_lr = patience_lr
        self.factor = factor
        self.patience_stop = patience_stop
        self.log_mlflow = log_mlflow
        self.on_epoch = on_epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def _lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with deferred():  # SIGTERM waits for the epoch's commit and its metrics (avsc.interrupts)
            self._end_epoch(epoch, logs)

    def _end_epoch(self, epoch: int, logs: dict | None) -> None:
        logs = dict(logs or {})
        lr = self._lr()
        logs["learning_rate"] = lr
        if getattr(self, "_started", None) is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._started
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"monitored metric {self.monitor!r} not in {sorted(logs)}")
        s = self.state
        improved = value > s.best
        if improved:
            s.best, s.best_epoch, s.wait, s.lr_wait = float(value), epoch, 0, 0
        else:
            s.wait += 1
            s.lr_wait += 1
            if s.lr_wait >= self.patience_lr:
                self.model.optimizer.learning_rate.assign(lr * self.factor)
                s.lr_wait = 0
                log.info(
                    "epoch %d: no %s gain for %d epochs, learning rate -> %.3g",
                    epoch + 1,
                    self.monitor,
                    self.patience_lr,
                    lr * self.factor,
                )
            if s.wait >= self.patience_stop:
                self.model.stop_training = True
                log.info(
                    "epoch %d: early stop (%d epochs without %s gain)", epoch + 1, self.patience_stop, self.monitor
                )
        for key, val in logs.items():
            s.history.setdefault(key, []).append(float(val))
        s.epoch = epoch + 1
        s.learning_rate = self._lr()
        self.checkpoints.save(self.model, s, improved=improved)  # the commit: metrics are logged after it
        if self.log_mlflow:
            import mlflow

            mlflow.log_metrics(epoch_metrics(logs), step=epoch)
        if self.on_epoch is not None:
            self.on_epoch(epoch, logs)
