"""SGD with cosine annealing and warm restarts (SGDR, Loshchilov & Hutter 2017) for the joint-optimization system.

The paper (sec. 3.2) gives: SGD, cosine annealing with warm restarts, learning rate from 1e-2 down
to 1e-5, batch 256, at most 150 epochs, the best validation loss kept. It does not give the restart
period, its growth, or the momentum. Mapping onto ``keras.optimizers.schedules.CosineDecayRestarts``
(which is evaluated per optimizer *step*):

* ``initial_learning_rate = max_learning_rate`` (1e-2);
* ``alpha = min_learning_rate / max_learning_rate`` (1e-3): Keras' floor is ``alpha * initial``,
  since ``lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * t)) + alpha)``;
* ``first_decay_steps = first_cycle_epochs * steps_per_epoch``; ``t_mul = cycle_mult``;
  ``m_mul = 1`` (every restart returns to 1e-2, as in SGDR);
* chosen: first cycle 10 epochs, doubling (SGDR's ``T_0 = 10, T_mult = 2``): cycles of 10, 20, 40
  and 80 epochs end exactly at epochs 10, 30, 70 and **150**, the paper's epoch budget;
* chosen: momentum 0.9 (the usual SGD momentum; no Nesterov, no weight decay).

Unlike PyTorch's ``CosineAnnealingWarmRestarts`` stepped once per epoch, the learning rate changes
within each epoch; the values at epoch boundaries are the same.
"""

from __future__ import annotations

import keras
from pydantic import BaseModel, ConfigDict, Field, model_validator


class SGDRSchedule(BaseModel):
    """Optimiser settings of the joint-optimization paper (sec. 3.2) plus the chosen restart period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_learning_rate: float = Field(default=1e-2, gt=0)
    min_learning_rate: float = Field(default=1e-5, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    first_cycle_epochs: int = Field(default=10, ge=1)
    cycle_mult: float = Field(default=2.0, ge=1.0)
    batch_size: int = Field(default=256, ge=1)
    epochs: int = Field(default=150, ge=1)

    @model_validator(mode="after")
    def _min_below_max(self) -> SGDRSchedule:
        if self.min_learning_rate > self.max_learning_rate:
            raise ValueError("min_learning_rate must not exceed max_learning_rate")
        return self


def build_schedule(cfg: SGDRSchedule, *, steps_per_epoch: int) -> keras.optimizers.schedules.CosineDecayRestarts:
    """The cosine-with-warm-restarts schedule of ``cfg`` for ``steps_per_epoch`` batches per epoch."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    return keras.optimizers.schedules.CosineDecayRestarts(
        initial_learning_rate=cfg.max_learning_rate,
        first_decay_steps=cfg.first_cycle_epochs * steps_per_epoch,
        t_mul=cfg.cycle_mult,
        m_mul=1.0,
        alpha=cfg.min_learning_rate / cfg.max_learning_rate,
    )


def build_optimizer(cfg: SGDRSchedule, *, steps_per_epoch: int) -> keras.optimizers.SGD:
    """``SGD(momentum=cfg.momentum)`` driven by :func:`build_schedule`."""
    return keras.optimizers.SGD(
        learning_rate=build_schedule(cfg, steps_per_epoch=steps_per_epoch), momentum=cfg.momentum
    )


def restart_epochs(cfg: SGDRSchedule) -> list[int]:
    """Epochs at which a cycle ends (the learning rate is back at its maximum), up to ``cfg.epochs``."""
    ends, length, end = [], float(cfg.first_cycle_epochs), 0.0
    while end + length <= cfg.epochs + 1e-9:
        end += length
        ends.append(round(end))
        length *= cfg.cycle_mult
    return ends


__all__ = ["SGDRSchedule", "build_optimizer", "build_schedule", "restart_epochs"]
