"""A system's training batches as a repeating ``tf.data.Dataset`` (prefetched: the model never waits).

Epoch ``e`` draws from ``default_rng([seed, e])``, so a run resumed at ``initial_epoch`` sees exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avsc.config.settings import TrainSection
from avsc.systems.base import System
from avsc.training.arrays import ClipArrays, clip_chunks


def _spec(value: Any, *, keep_dtype: bool = False):
    import tensorflow as tf

    if isinstance(value, dict):
        return {k: _spec(v, keep_dtype=keep_dtype) for k, v in value.items()}
    dtype = tf.as_dtype(np.asarray(value).dtype) if keep_dtype else tf.float32
    return tf.TensorSpec(shape=(None, *np.shape(value)[1:]), dtype=dtype)


def training_dataset(
    system: System, step: str, arrays: ClipArrays, *, cfg: TrainSection, seed: int, initial_epoch: int = 0
) -> tuple[Any, int]:
    """``(dataset, batches per epoch)`` of ``system``'s training batches for ``step``.

    With ``cfg.gradient_accumulation_steps`` > 1 the batches are micro-batches of
    ``cfg.micro_batch_size`` examples (the optimizer accumulates that many per update) and the
    count is of micro-batches.
    """
    import tensorflow as tf

    cfg = micro_batches(cfg)

    def generate():
        epoch = initial_epoch
        while True:
            rng = np.random.default_rng([seed, epoch])
            yield from system.epoch_batches(step, arrays, cfg=cfg, rng=rng)
            epoch += 1

    first = next(system.epoch_batches(step, arrays, cfg=cfg, rng=np.random.default_rng(0)))
    ds = tf.data.Dataset.from_generator(generate, output_signature=(_spec(first[0]), _spec(first[1])))
    return ds.prefetch(tf.data.AUTOTUNE), system.n_batches(step, arrays, cfg=cfg)


def micro_batches(cfg: TrainSection) -> TrainSection:
    """``cfg`` as the systems draw batches under gradient accumulation: ``batch_size`` = the micro-batch."""
    if cfg.gradient_accumulation_steps == 1:
        return cfg
    return cfg.model_copy(update={"batch_size": cfg.micro_batch_size, "gradient_accumulation_steps": 1})


def validation_input(
    system: System, step: str, arrays: ClipArrays, *, batch_size: int, chunk: int | None = None
) -> Any:
    """Keras ``validation_data`` for ``step``: the system's arrays, or for a split on disk (or one whose
    examples would exceed the in-memory limit, :func:`avsc.systems.base.read_in_chunks`) a
    ``tf.data.Dataset`` of the same examples read ``chunk`` clips at a time (bounded memory;
    default :data:`avsc.systems.base.CHUNK_CLIPS`)."""
    from avsc.systems import base

    if not base.read_in_chunks(system, step, arrays):
        return system.validation_data(step, arrays)
    import tensorflow as tf

    chunk = chunk or base.CHUNK_CLIPS

    def batches():
        for _, part in clip_chunks(arrays, size=chunk):
            x, y = system.validation_data(step, part)
            n = len(next(iter(x.values())) if isinstance(x, dict) else x)
            for i in range(0, n, batch_size):
                cut = slice(i, i + batch_size)
                xb = {k: v[cut] for k, v in x.items()} if isinstance(x, dict) else x[cut]
                yb = {k: v[cut] for k, v in y.items()} if isinstance(y, dict) else y[cut]
                yield xb, yb

    x0, y0 = system.validation_data(step, next(clip_chunks(arrays, size=1))[1])
    ds = tf.data.Dataset.from_generator(batches, output_signature=(_spec(x0, keep_dtype=True), _spec(y0)))
    return ds.prefetch(tf.data.AUTOTUNE)
