"""Training-step helpers for the dual-stream models of :mod:`avsc.models.dualstream`.

Which weights train in each pipeline step, how a fused model starts from trained unimodal models, and
the paper's optimizer (Adam, lr 1e-4, weight decay 0.1) as decoupled weight decay. PyTorch's
``Adam(weight_decay=0.1)`` adds 0.1·w to the gradient: an L2 penalty that Adam then rescales per
weight, so it barely shrinks weights with large gradients and dominates the updates of the rest.
``AdamW`` shrinks every weight by ``lr · weight_decay`` per step, is the form in which 0.1 is a usual
value, and is Keras' built-in. All weights decay, as every parameter does under PyTorch's Adam. The
authors' released train.py uses Adam lr 1e-4 without weight decay.
"""

from __future__ import annotations

import keras

#: Nested modules frozen in the ``fusion`` step (the backbone exists in models built on frames).
BRANCHES = ("audio_branch", "image_branch", "backbone")
STEPS = ("fusion", "finetune")
PAPER_LEARNING_RATE = 1e-4
PAPER_WEIGHT_DECAY = 0.1


def copy_branch_weights(
    fused_model: keras.Model, *, audio_model: keras.Model | None = None, visual_model: keras.Model | None = None
) -> keras.Model:
    """Start a fused model's branches from trained unimodal models (weights copied, not shared).

    ``audio_branch`` from ``audio_model`` and/or ``image_branch`` (and ``backbone``, when both have one)
    from ``visual_model``; returns ``fused_model``.
    """
    pairs = []
    if audio_model is not None:
        pairs.append((audio_model, "audio_branch"))
    if visual_model is not None:
        pairs.append((visual_model, "image_branch"))
        if _has_layer(visual_model, "backbone") and _has_layer(fused_model, "backbone"):
            pairs.append((visual_model, "backbone"))
    for source, name in pairs:
        fused_model.get_layer(name).set_weights(source.get_layer(name).get_weights())
    return fused_model


def _has_layer(model: keras.Model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def set_trainable(model: keras.Model, *, step: str) -> keras.Model:
    """Trainable flags for a training step (recompile afterwards); works on every model built here.

    ``fusion``: the nested ``audio_branch``, ``image_branch`` and ``backbone`` are frozen (their
    BatchNorm layers then run in inference mode); everything else trains. ``finetune``: everything
    trains, the backbone included (the paper fine-tunes ResNet50).
    """
    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step!r}")
    model.trainable = True
    for layer in model.layers:
        if layer.name in BRANCHES:
            layer.trainable = step == "finetune"
        elif isinstance(layer, keras.Model):
            set_trainable(layer, step=step)
    return model


def make_optimizer(
    *, learning_rate: float = PAPER_LEARNING_RATE, weight_decay: float = PAPER_WEIGHT_DECAY
) -> keras.optimizers.AdamW:
    """The paper's optimizer as decoupled weight decay: ``AdamW(learning_rate, weight_decay)`` on all weights."""
    return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)


__all__ = [
    "BRANCHES",
    "PAPER_LEARNING_RATE",
    "PAPER_WEIGHT_DECAY",
    "STEPS",
    "copy_branch_weights",
    "make_optimizer",
    "set_trainable",
]
