"""Dual-stream training helpers: trainable sets per step, branch weight transfer, decoupled AdamW."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from avsc.config.models import DualStreamModel
from avsc.models.counting import count_params
from avsc.models.dualstream import (
    build_audio_model,
    build_fused_model,
    build_fused_model_on_frames,
    build_visual_model,
)
from avsc.models.dualstream_training import (
    PAPER_LEARNING_RATE,
    PAPER_WEIGHT_DECAY,
    copy_branch_weights,
    make_optimizer,
    set_trainable,
)

RNG = np.random.default_rng(0)
TINY = DualStreamModel(
    audio_dim=16,
    audio_heads=2,
    audio_key_dim=8,
    audio_ff_dim=16,
    conv_filters=(8, 8, 8),
    embed_dim=8,
    fusion_heads=2,
    fusion_key_dim=4,
    fusion_ff_dim=16,
    fc_units=8,
)


def test_set_trainable_steps():
    fused = build_fused_model(TINY, d_audio=12, d_visual=20)
    everything = count_params(fused)["trainable"]
    set_trainable(fused, step="fusion")
    assert count_params(fused)["trainable"] == count_params(fused.get_layer("fusion"))["trainable"]
    assert not fused.get_layer("audio_branch").trainable and not fused.get_layer("image_branch").trainable
    set_trainable(fused, step="finetune")
    assert count_params(fused)["trainable"] == everything
    with pytest.raises(ValueError, match="bogus"):
        set_trainable(fused, step="bogus")


def test_set_trainable_backbone_on_frames():
    backbone = keras.applications.ResNet50(include_top=False, weights=None, pooling="avg", input_shape=(32, 32, 3))
    model = build_fused_model_on_frames(TINY, backbone=backbone, d_audio=12, image_size=32)
    set_trainable(model, step="fusion")
    assert not backbone.trainable_weights
    assert count_params(model)["trainable"] == count_params(model.get_layer("fusion"))["trainable"]
    set_trainable(model, step="finetune")
    assert count_params(backbone)["trainable"] == 23_534_592


def test_copy_branch_weights():
    audio = build_audio_model(TINY, d_audio=12)
    visual = build_visual_model(TINY, d_visual=20)
    fused = build_fused_model(TINY, d_audio=12, d_visual=20)
    a = RNG.standard_normal((2, 20, 12)).astype("float32")
    v = RNG.random((2, 2, 20)).astype("float32")
    assert not np.allclose(fused.get_layer("audio_branch")(a), audio.get_layer("audio_branch")(a))
    copy_branch_weights(fused, audio_model=audio, visual_model=visual)
    np.testing.assert_array_equal(fused.get_layer("audio_branch")(a), audio.get_layer("audio_branch")(a))
    np.testing.assert_array_equal(fused.get_layer("image_branch")(v), visual.get_layer("image_branch")(v))
    # copied, not shared: changing the source leaves the fused model alone
    branch = audio.get_layer("audio_branch")
    branch.set_weights([w * 0.0 for w in branch.get_weights()])
    assert np.any(np.asarray(fused.get_layer("audio_branch")(a)) != np.asarray(branch(a)))


def test_make_optimizer_decay_is_decoupled():
    opt = make_optimizer()
    assert isinstance(opt, keras.optimizers.AdamW)
    assert float(opt.learning_rate) == pytest.approx(PAPER_LEARNING_RATE)
    assert opt.weight_decay == pytest.approx(PAPER_WEIGHT_DECAY)
    # zero gradient: AdamW still shrinks w by lr * wd * w (an L2 term in the gradient would move it by ~lr)
    w = keras.Variable(np.ones(3, dtype="float32"))
    opt.apply_gradients([(keras.ops.zeros(3), w)])
    np.testing.assert_allclose(np.asarray(w), 1.0 - PAPER_LEARNING_RATE * PAPER_WEIGHT_DECAY, rtol=0, atol=1e-7)
