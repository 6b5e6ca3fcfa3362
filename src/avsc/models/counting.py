"""Parameter counts of a Keras model, the one definition every summary and report uses."""

from __future__ import annotations

import math

import keras


def count_params(model: keras.Model | keras.layers.Layer) -> dict[str, int]:
    """``{"total", "trainable"}`` weights of a model (BatchNormalization statistics count in ``total`` only)."""
    trainable = sum(math.prod(int(d) for d in w.shape) for w in model.trainable_weights)
    return {"total": int(model.count_params()), "trainable": int(trainable)}
