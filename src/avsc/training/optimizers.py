"""The optimiser of a training stage, from its settings (``optimizer``, ``schedule``, ...)."""

from __future__ import annotations

from avsc.config.settings import TrainSection


def build_optimizer(cfg: TrainSection, *, steps_per_epoch: int):
    """Adam, AdamW (decoupled weight decay) or SGD with momentum, at a fixed learning rate (halved on
    plateaus by the training loop) or on cosine annealing with warm restarts (:mod:`avsc.training.sgdr`).

    With ``cfg.gradient_accumulation_steps`` > 1 the optimizer updates the weights once every that
    many batches with their mean gradient (Keras' ``gradient_accumulation_steps``); ``steps_per_epoch``
    then counts micro-batches, as does the schedule (Keras evaluates it on the micro-batch counter).
    """
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
    steps = cfg.gradient_accumulation_steps
    extra = {"gradient_accumulation_steps": steps} if steps > 1 else {}
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=cfg.weight_decay, **extra)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=cfg.momentum, **extra)
    return keras.optimizers.Adam(rate, **extra)


def plateau_halving(cfg: TrainSection) -> bool:
    """Whether the training loop halves the learning rate on validation plateaus (not with a schedule)."""
    return cfg.schedule == "plateau"
