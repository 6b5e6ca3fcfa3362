"""SGD with cosine annealing and warm restarts: the paper's 1e-2 -> 1e-5 mapped onto Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pydantic import ValidationError

from avsc.training.sgdr import SGDRSchedule, build_optimizer, build_schedule, restart_epochs

STEPS = 34  # batches per epoch (any value)


def _lr(schedule, step: int) -> float:
    return float(np.asarray(schedule(step)))


def test_schedule_values():
    cfg = SGDRSchedule()
    schedule = build_schedule(cfg, steps_per_epoch=STEPS)
    assert _lr(schedule, 0) == pytest.approx(1e-2)
    assert _lr(schedule, 5 * STEPS) == pytest.approx((1e-2 + 1e-5) / 2, rel=1e-5)  # middle of cycle 1
    assert _lr(schedule, 10 * STEPS - 1) == pytest.approx(1e-5, abs=2e-6)  # end of cycle 1
    for epoch in (10, 30, 70):  # warm restarts
        assert _lr(schedule, epoch * STEPS) == pytest.approx(1e-2, rel=1e-4)
    assert _lr(schedule, 20 * STEPS) == pytest.approx((1e-2 + 1e-5) / 2, rel=1e-4)  # middle of cycle 2
    lrs = np.array([_lr(schedule, s) for s in range(0, 150 * STEPS, 7)])
    assert lrs.min() >= 1e-5 * (1 - 1e-4) and lrs.max() <= 1e-2 * (1 + 1e-6)


def test_restart_epochs_fill_the_epoch_budget():
    assert restart_epochs(SGDRSchedule()) == [10, 30, 70, 150]
    assert restart_epochs(SGDRSchedule(first_cycle_epochs=5, cycle_mult=1.0, epochs=20)) == [5, 10, 15, 20]


def test_optimizer():
    opt = build_optimizer(SGDRSchedule(), steps_per_epoch=STEPS)
    assert isinstance(opt, keras.optimizers.SGD)
    assert opt.momentum == pytest.approx(0.9) and not opt.nesterov
    assert float(np.asarray(opt.learning_rate)) == pytest.approx(1e-2)  # the schedule at iteration 0
    assert SGDRSchedule().batch_size == 256 and SGDRSchedule().epochs == 150


def test_invalid_settings():
    with pytest.raises(ValidationError, match="min_learning_rate must not exceed"):
        SGDRSchedule(min_learning_rate=0.1)
    with pytest.raises(ValidationError, match="extra"):
        SGDRSchedule(warmup=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        build_schedule(SGDRSchedule(), steps_per_epoch=0)
