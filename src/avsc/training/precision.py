"""Device-independent speed settings of a training step: mixed precision and XLA.

``mixed_precision: true`` builds the step's model under Keras' ``mixed_float16`` policy (float16
compute, float32 weights; Keras adds loss scaling at compile time) with every output cast back to
float32, so losses, metrics and saved predictions stay float32. ``jit_compile: true`` compiles the
train step with XLA. Both are off by default: on CPU they do not help; on a GPU they are the
usual first switches. Nothing here assumes a device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from avsc.config.settings import TrainSection

MIXED = "mixed_float16"


@contextmanager
def precision_scope(cfg: TrainSection) -> Iterator[None]:
    """Layers created inside use ``mixed_float16`` when ``cfg.mixed_precision`` (the previous policy is restored)."""
    import keras

    if not cfg.mixed_precision:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_outputs(model: Any) -> Any:
    """``model`` with every float16 output cast to float32 (same inputs, same output structure and keys)."""
    import keras

    outputs = model.output
    if all(str(t.dtype) == "float32" for t in keras.tree.flatten(outputs)):
        return model

    def cast(tensor):
        if str(tensor.dtype) == "float32":
            return tensor
        layer = tensor._keras_history[0]  # the output's layer names the cast, so output names stay readable
        return keras.layers.Activation("linear", dtype="float32", name=f"{layer.name}_float32")(tensor)

    return keras.Model(model.input, keras.tree.map_structure(cast, outputs), name=model.name)


def build_with_precision(build, cfg: TrainSection) -> Any:
    """``build()`` under :func:`precision_scope`, with float32 outputs when mixed precision is on."""
    with precision_scope(cfg):
        model = build()
        return float32_outputs(model) if cfg.mixed_precision else model
