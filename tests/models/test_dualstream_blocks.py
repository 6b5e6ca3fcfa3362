"""Dual-stream blocks: shapes for free time axes, the 10-hop → 1-frame arithmetic, the pooling sum."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from avsc.models.dualstream_blocks import (
    attention_block,
    classification_head,
    conv_downsampling,
    max_plus_mean_pooling,
)

RNG = np.random.default_rng(0)


def test_attention_block_keeps_shape():
    inp = keras.Input((None, 16))
    model = keras.Model(inp, attention_block(inp, heads=2, key_dim=8, ff_dim=32, name="att"))
    assert model.output_shape == (None, None, 16)
    for steps in (1, 7):
        assert model(RNG.standard_normal((3, steps, 16)).astype("float32")).shape == (3, steps, 16)
    # one encoder layer: MHA (q, k, v, out) + 2 layer norms + 2-layer feed-forward
    mha = 3 * (16 * 2 * 8 + 2 * 8) + 2 * 8 * 16 + 16
    assert model.count_params() == mha + 2 * 32 + (16 * 32 + 32) + (32 * 16 + 16)


@pytest.mark.parametrize("seconds", [1, 3, 10])
def test_conv_downsampling_ten_hops_to_one_frame(seconds):
    inp = keras.Input((None, 12))
    out = conv_downsampling(inp, filters=(4, 4, 4, 6), kernels=(3, 3, 3, 5), strides=(1, 2, 1, 5), name="c")
    graph = keras.Model(inp, out)
    probe = keras.Model(inp, [graph.get_layer(f"c{i}").output for i in (1, 2, 3, 4)])
    outs = probe(RNG.standard_normal((2, 10 * seconds, 12)).astype("float32"))
    assert [tuple(o.shape) for o in outs] == [
        (2, 10 * seconds, 4),
        (2, 5 * seconds, 4),
        (2, 5 * seconds, 4),
        (2, seconds, 6),
    ]
    assert np.all(np.asarray(outs[-1]) >= 0.0)  # ReLU output


def test_conv_downsampling_rejects_ragged_spec():
    with pytest.raises(ValueError, match="differ in length"):
        conv_downsampling(keras.Input((None, 4)), filters=(4,), kernels=(3, 3), strides=(1, 2), name="c")


def test_max_plus_mean_pooling_values():
    inp = keras.Input((None, 2))
    model = keras.Model(inp, max_plus_mean_pooling(inp, name="pool"))
    x = np.array([[[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0]]], dtype="float32")
    np.testing.assert_allclose(np.asarray(model(x)), [[3.0 + 1.0, 5.0 + 1.0]], rtol=1e-6)


def test_classification_head_softmax():
    inp = keras.Input((None, 6))
    model = keras.Model(inp, classification_head(inp, units=5, dropout=0.5, n_classes=10, name="h"))
    out = np.asarray(model(RNG.standard_normal((4, 3, 6)).astype("float32")))
    assert out.shape == (4, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert [layer.name for layer in model.layers[1:]] == [
        "h_fc",
        "h_pool_max",
        "h_pool_mean",
        "h_pool",
        "h_dropout",
        "h_out",
    ]
