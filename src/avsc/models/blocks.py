"""Building blocks of the SE-CRNN audio module (Naranjo-Alcazar et al. 2021, sec. 2.1.2).

Only built-in Keras layers are used, so saved ``.keras`` files load with ``safe_mode=True``.
"""

from __future__ import annotations

from keras import layers


def channel_se(x, filters: int, *, ratio: int = 2, name: str):
    """Channel squeeze-excitation (cSE, Hu et al.): GAP → dense(F/ratio, relu) → dense(F, sigmoid) → x·s.

    The dense layers have no bias, following the common Keras SE implementation (titu1994's
    ``squeeze_excite_block``) that the SE-ResNet authors' code builds on; the paper does not say.
    """
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_cse_gap")(x)
    s = layers.Dense(
        max(filters // ratio, 1),
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_cse_reduce",
    )(s)
    s = layers.Dense(
        filters, activation="sigmoid", use_bias=False, kernel_initializer="he_normal", name=f"{name}_cse_expand"
    )(s)
    return layers.Multiply(name=f"{name}_cse_scale")([x, s])


def spatial_se(x, *, name: str):
    """Spatial squeeze-excitation (sSE, Roy et al.): 1×1 conv to one sigmoid map → x·map (no bias)."""
    m = layers.Conv2D(
        1, 1, activation="sigmoid", use_bias=False, kernel_initializer="he_normal", name=f"{name}_sse_conv"
    )(x)
    return layers.Multiply(name=f"{name}_sse_scale")([x, m])


def scse(x, filters: int, *, ratio: int = 2, name: str):
    """Concurrent spatial and channel SE (scSE): cSE(x) + sSE(x) (addition, as in Roy et al. 2018)."""
    return layers.Add(name=f"{name}_scse")([channel_se(x, filters, ratio=ratio, name=name), spatial_se(x, name=name)])


def conv_standard_post(x, filters: int, *, se_ratio: int = 2, name: str):
    """Conv-StandardPOST block (Naranjo-Alcazar et al. 2020, IEEE Access; SE-CRNN Fig. 2).

    ``main = BN(conv3×3(ELU(BN(conv3×3(x)))))``; ``sc = BN(conv1×1(x))``;
    ``y = ELU(main + sc)``; ``out = scSE(y) + sc`` (the scSE output is added to the shortcut again).
    The last addition is the layer named ``name`` so callers can pick the block output by name.
    """
    main = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    main = layers.BatchNormalization(name=f"{name}_bn1")(main)
    main = layers.Activation("elu", name=f"{name}_elu1")(main)
    main = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(main)
    main = layers.BatchNormalization(name=f"{name}_bn2")(main)

    sc = layers.Conv2D(filters, 1, padding="same", name=f"{name}_shortcut_conv")(x)
    sc = layers.BatchNormalization(name=f"{name}_shortcut_bn")(sc)

    y = layers.Add(name=f"{name}_add")([main, sc])
    y = layers.Activation("elu", name=f"{name}_elu2")(y)
    y = scse(y, filters, ratio=se_ratio, name=name)
    return layers.Add(name=name)([y, sc])


__all__ = ["channel_se", "conv_standard_post", "scse", "spatial_se"]
