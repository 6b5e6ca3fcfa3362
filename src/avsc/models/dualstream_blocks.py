"""Building blocks of the dual-stream network (Hou et al., DCASE 2021 Task 1B): Keras 3 built-in layers only.

Every block takes and returns symbolic tensors ``(batch, time, features)`` with a free (``None``) time
axis, so the same weights run on 10-s clips and on 1-s segments. Sizes and their sources are documented
in :mod:`avsc.models.dualstream`.
"""

from __future__ import annotations

from collections.abc import Sequence

from keras import layers

#: LayerNormalization epsilon of the authors' PyTorch code (``nn.LayerNorm`` default).
LN_EPSILON = 1e-5


def attention_block(x, *, heads: int, key_dim: int, ff_dim: int, dropout: float = 0.0, name: str):
    """One post-norm Transformer encoder layer (Vaswani et al.), as in the authors' ``sub_attention``.

    ``y = LN(x + MHA(x, x, x))``; ``out = LN(y + W2·relu(W1·y))`` with ``W1``: ``ff_dim`` units and ``W2``
    back to the input width. No positional encoding (the authors add none). Keras' MultiHeadAttention
    scales the dot products by ``1/sqrt(key_dim)``; the authors' code does not (see the module docs of
    :mod:`avsc.models.dualstream`). ``dropout`` applies to the attention weights.

    Shapes: ``(batch, time, d)`` → ``(batch, time, d)``; the last layer is named ``name``.
    """
    width = x.shape[-1]
    att = layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim, dropout=dropout, name=f"{name}_mha")(x, x)
    x = layers.Add(name=f"{name}_add1")([x, att])
    x = layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{name}_ln1")(x)
    ff = layers.Dense(ff_dim, activation="relu", name=f"{name}_ff1")(x)
    ff = layers.Dense(width, name=f"{name}_ff2")(ff)
    x = layers.Add(name=f"{name}_add2")([x, ff])
    return layers.LayerNormalization(epsilon=LN_EPSILON, name=name)(x)


def conv_downsampling(x, *, filters: Sequence[int], kernels: Sequence[int], strides: Sequence[int], name: str):
    """1-D convolutions over time, each Conv1D (no bias, 'same' padding) → BatchNorm → ReLU.

    'same' padding makes every layer's output length ``ceil(n / stride)``, so a time axis of
    ``prod(strides) · k`` steps becomes exactly ``k`` steps (10 hops → 1 frame for strides (1, 2, 1, 5)).

    Shapes: ``(batch, time, d)`` → ``(batch, time / prod(strides), filters[-1])``; layer ``i`` (from 1)
    ends in the activation named ``{name}{i}``.
    """
    if not len(filters) == len(kernels) == len(strides):
        raise ValueError(f"filters, kernels and strides differ in length: {filters}, {kernels}, {strides}")
    for i, (f, k, s) in enumerate(zip(filters, kernels, strides, strict=True), start=1):
        x = layers.Conv1D(f, k, strides=s, padding="same", use_bias=False, name=f"{name}{i}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}{i}_bn")(x)
        x = layers.Activation("relu", name=f"{name}{i}")(x)
    return x


def max_plus_mean_pooling(x, *, name: str):
    """The paper's pooling: global max over time + global average over time (sum of the two vectors).

    Shapes: ``(batch, time, d)`` → ``(batch, d)``; the sum is the layer named ``name``.
    """
    peak = layers.GlobalMaxPooling1D(name=f"{name}_max")(x)
    mean = layers.GlobalAveragePooling1D(name=f"{name}_mean")(x)
    return layers.Add(name=name)([peak, mean])


def classification_head(x, *, units: int, dropout: float, n_classes: int, name: str):
    """Dense(``units``, relu) per time step → max+mean pooling over time → Dropout → Dense(softmax).

    Shapes: ``(batch, time, d)`` → ``(batch, n_classes)``; layers ``{name}_fc``, ``{name}_pool``,
    ``{name}_dropout`` and the softmax ``{name}_out``.
    """
    x = layers.Dense(units, activation="relu", name=f"{name}_fc")(x)
    x = max_plus_mean_pooling(x, name=f"{name}_pool")
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(n_classes, activation="softmax", name=f"{name}_out")(x)


__all__ = ["LN_EPSILON", "attention_block", "classification_head", "conv_downsampling", "max_plus_mean_pooling"]
