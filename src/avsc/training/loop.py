"""A resumable training loop for Keras: LR halving on plateau, early stopping, best-weights
selection, per-epoch checkpoints and MLflow logging, all in one callback whose state is saved
with every checkpoint (Keras' own ReduceLROnPlateau/EarlyStopping lose their counters on resume).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from avsc.data.media import atomic_path, atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class LoopState:
    """Everything needed to continue training after a kill."""

    fingerprint: str
    run_id: str | None = None
    epoch: int = 0
    best: float = -math.inf
    best_epoch: int = -1
    wait: int = 0
    lr_wait: int = 0
    learning_rate: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


class Checkpoints:
    """``last.keras`` (model + optimizer), ``best.weights.h5`` and ``state.json`` in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def last(self) -> Path:
        return self.folder / "last.keras"

    @property
    def best(self) -> Path:
        return self.folder / "best.weights.h5"

    def load_state(self, fingerprint: str) -> LoopState | None:
        path = self.folder / "state.json"
        if not (path.is_file() and self.last.is_file()):
            return None
        try:
            state = LoopState(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError):
            return None
        return state if state.fingerprint == fingerprint else None

    def save(self, model: keras.Model, state: LoopState, *, improved: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if improved:
            with atomic_path(self.best, suffix=".weights.h5") as tmp:
                model.save_weights(tmp)
        with atomic_path(self.last, suffix=".keras") as tmp:
            model.save(tmp)
        atomic_write_text(self.folder / "state.json", json.dumps(asdict(state)))

    def clear(self) -> None:
        for path in (self.last, self.best, self.folder / "state.json"):
            path.unlink(missing_ok=True)


def _metric_name(key: str) -> str:
    """Keras log key → ``train/…`` or ``val/…`` metric name."""
    if key.startswith("val_"):
        return "val/" + key[4:]
    return "train/" + key


class TrainingLoop(keras.callbacks.Callback):
    """Plateau LR schedule, early stopping, checkpoints and MLflow metrics in one resumable callback."""

    def __init__(self, *, state: LoopState, checkpoints: Checkpoints, monitor: str, patience_lr: int,
                 factor: float, patience_stop: int, log_mlflow: bool = True, on_epoch=None) -> None:
        super().__init__()
        self.state = state
        self.checkpoints = checkpoints
        self.monitor = monitor
        self.patience_lr = patience_lr
        self.factor = factor
        self.patience_stop = patience_stop
        self.log_mlflow = log_mlflow
        self.on_epoch = on_epoch

    def _lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        lr = self._lr()
        logs["learning_rate"] = lr
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
                log.info("epoch %d: no %s gain for %d epochs, learning rate -> %.3g", epoch + 1, self.monitor,
                         self.patience_lr, lr * self.factor)
            if s.wait >= self.patience_stop:
                self.model.stop_training = True
                log.info("epoch %d: early stop (%d epochs without %s gain)", epoch + 1, self.patience_stop,
                         self.monitor)
        for key, val in logs.items():
            s.history.setdefault(key, []).append(float(val))
        s.epoch = epoch + 1
        s.learning_rate = self._lr()
        self.checkpoints.save(self.model, s, improved=improved)
        if self.log_mlflow:
            import mlflow

            mlflow.log_metrics({_metric_name(k): float(v) for k, v in logs.items() if k != "learning_rate"}
                               | {"learning_rate": lr}, step=epoch)
        if self.on_epoch is not None:
            self.on_epoch(epoch, logs)
        stop_after = os.environ.get("AVSC_STOP_AFTER_EPOCH")  # test hook: simulate a kill
        if stop_after and s.epoch >= int(stop_after):
            os._exit(137)
