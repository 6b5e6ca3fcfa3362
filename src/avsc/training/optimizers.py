"""The optimiser of a training stage, from its settings (``optimizer``, ``schedule``, ...)."""

from __future__ import annotations

from avsc.config.settings import TrainSection


def build_optimizer(cfg: TrainSection, *, steps_per_epoch: int):
    """Adam, AdamW (decoupled weight decay) or SGD with momentum, at a fixed learning rate (halved on
    plateaus by the training loop) or on cosine annealing with warm restarts (:mod:`avsc.training.sgdr`)."""
    import keras

    if cfg.schedule == "cosine_restarts":
        from avsc.training.sgdr import SGDRSchedule, build_schedule

        rate = build_schedule(
            SGDRSchedule(
                max_learning_rate=cfg.learning_rate,
                min_learning_rate=cfg.min_learning_rate,
                momentum=cfg.momentum,
                first_cycle_epochs=cfg.restart_epochs,
                cycle_mult=cfg.restart_mult,
                batch_size=cfg.batch_size,
                epochs=cfg.epochs,
            ),
            steps_per_epoch=max(1, steps_per_epoch),
        )
    else:
        rate = cfg.learning_rate
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=cfg.momentum)
    return keras.optimizers.Adam(rate)


def plateau_halving(cfg: TrainSection) -> bool:
    """Whether the training loop halves the learning rate on validation plateaus (not with a schedule)."""
    return cfg.schedule == "plateau"
