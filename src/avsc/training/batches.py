"""A system's training batches as a repeating ``tf.data.Dataset`` (prefetched: the model never waits).

Epoch ``e`` draws from ``default_rng([seed, e])``, so a run resumed at ``initial_epoch`` sees exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avsc.config.settings import TrainSection
from avsc.systems.base import System
from avsc.training.arrays import ClipArrays


def _spec(value: Any):
    import tensorflow as tf

    if isinstance(value, dict):
        return {k: _spec(v) for k, v in value.items()}
    return tf.TensorSpec(shape=(None, *np.shape(value)[1:]), dtype=tf.float32)


def training_dataset(
    system: System, step: str, arrays: ClipArrays, *, cfg: TrainSection, seed: int, initial_epoch: int = 0
) -> tuple[Any, int]:
    """``(dataset, batches per epoch)`` of ``system``'s training batches for ``step``."""
    import tensorflow as tf

    def generate():
        epoch = initial_epoch
        while True:
            rng = np.random.default_rng([seed, epoch])
            yield from system.epoch_batches(step, arrays, cfg=cfg, rng=rng)
            epoch += 1

    first = next(system.epoch_batches(step, arrays, cfg=cfg, rng=np.random.default_rng(0)))
    ds = tf.data.Dataset.from_generator(generate, output_signature=(_spec(first[0]), _spec(first[1])))
    return ds.prefetch(tf.data.AUTOTUNE), system.n_batches(step, arrays, cfg=cfg)
