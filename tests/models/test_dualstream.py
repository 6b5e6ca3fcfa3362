"""Dual-stream models: shapes for 1/3/10-s inputs, every block's shape, pinned parameter counts,
the multihead model, safe-mode save/load, training on random data, the trainable backbone on frames."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pydantic import ValidationError

from avsc.config.models import DualStreamModel
from avsc.models.counting import count_params
from avsc.models.dualstream import (
    HEADS,
    build_audio_branch,
    build_audio_model,
    build_fused_model,
    build_fused_model_on_frames,
    build_image_branch,
    build_multihead_model,
    build_visual_model,
    build_visual_model_on_frames,
    parameter_counts,
)
from avsc.models.dualstream_training import make_optimizer

RNG = np.random.default_rng(0)
PAPER = DualStreamModel()
#: Tiny sizes for the tests that are not about the paper's sizes.
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
D_AUDIO, D_VISUAL = 12, 20  # tiny inputs: d_audio != audio_dim, so the projection is built


def _inputs(seconds: int, *, n: int = 2, rng: np.random.Generator = RNG) -> dict[str, np.ndarray]:
    return {
        "audio": rng.standard_normal((n, 10 * seconds, D_AUDIO)).astype("float32"),
        "visual": rng.random((n, seconds, D_VISUAL)).astype("float32"),
    }


@pytest.fixture(scope="module")
def tiny():
    audio = build_audio_model(TINY, d_audio=D_AUDIO)
    visual = build_visual_model(TINY, d_visual=D_VISUAL)
    fused = build_fused_model(TINY, d_audio=D_AUDIO, d_visual=D_VISUAL)
    return {"audio": audio, "visual": visual, "fused": fused, "multihead": build_multihead_model(audio, visual, fused)}


def test_config_defaults_are_the_papers_and_strict():
    assert (PAPER.audio_dim, PAPER.embed_dim, PAPER.dropout) == (512, 256, 0.5)
    assert (PAPER.audio_heads, PAPER.audio_key_dim, PAPER.fusion_heads, PAPER.fusion_key_dim) == (8, 64, 16, 32)
    assert len(PAPER.conv_kernels) == 4  # "four convolutional layers"
    with pytest.raises(ValidationError, match="multiply to 6"):
        DualStreamModel(conv_strides=(1, 2, 1, 3))
    with pytest.raises(ValidationError, match="one fewer"):
        DualStreamModel(conv_filters=(256, 256, 256, 256))
    with pytest.raises(ValidationError, match="extra"):
        DualStreamModel(conv_layers=4)
    with pytest.raises(ValidationError, match="frozen"):
        PAPER.embed_dim = 128  # type: ignore[misc]


@pytest.mark.parametrize("seconds", [1, 3, 10])
def test_every_block_shape_at_paper_sizes(seconds):
    audio = build_audio_branch(PAPER, d_audio=256)
    names = ["audio_projection", "audio_attention", "audio_conv1", "audio_conv2", "audio_conv3", "audio_conv4"]
    probe = keras.Model(audio.input, [audio.get_layer(n).output for n in names])
    hops = 10 * seconds
    got = [tuple(o.shape) for o in probe(RNG.standard_normal((2, hops, 256)).astype("float32"))]
    assert got == [(2, hops, 512), (2, hops, 512), (2, hops, 256), (2, hops // 2, 256), (2, hops // 2, 256)] + [
        (2, seconds, 256)
    ]
    image = build_image_branch(PAPER, d_visual=2048)
    assert tuple(image(RNG.random((2, seconds, 2048)).astype("float32")).shape) == (2, seconds, 256)

    fused = build_fused_model(PAPER, d_audio=512, d_visual=2048)
    fusion = fused.get_layer("fusion")
    names = ["fusion_concat", "fusion_attention", "fused_fc", "fused_pool", "fused_out"]
    probe = keras.Model(fusion.inputs, [fusion.get_layer(n).output for n in names])
    emb = [RNG.random((2, seconds, 256)).astype("float32") for _ in range(2)]
    got = [tuple(o.shape) for o in probe(emb)]
    assert got == [(2, seconds, 512), (2, seconds, 512), (2, seconds, 256), (2, 256), (2, 10)]
    assert not any(layer.name == "audio_projection" for layer in fused.get_layer("audio_branch").layers)


@pytest.mark.parametrize("seconds", [1, 3, 10])
def test_output_shapes_and_softmax(tiny, seconds):
    x = _inputs(seconds)
    out = tiny["multihead"].predict(x, verbose=0)
    assert set(out) == set(HEADS)
    for head in HEADS:
        assert out[head].shape == (2, 10)
        np.testing.assert_allclose(out[head].sum(axis=1), 1.0, atol=1e-5)
        assert np.all(out[head] > 0.0)
    # each head is exactly its own model
    np.testing.assert_allclose(out["audio"], tiny["audio"].predict(x["audio"], verbose=0), atol=1e-6)
    np.testing.assert_allclose(out["visual"], tiny["visual"].predict(x["visual"], verbose=0), atol=1e-6)
    np.testing.assert_allclose(out["fused"], tiny["fused"].predict(x, verbose=0), atol=1e-6)


def test_paper_parameter_counts_pinned():
    counts = parameter_counts(PAPER)
    assert counts["audio_branch"] == {"total": 2_696_192, "trainable": 2_694_144}
    assert counts["image_branch"] == {"total": 525_568, "trainable": 525_056}
    assert counts["image_branch_resnet50"] == {"total": 24_113_280, "trainable": 24_059_648}
    assert counts["fusion"] == {"total": 1_711_882, "trainable": 1_711_882}
    assert counts["audio"] == {"total": 2_764_554, "trainable": 2_762_506}
    assert counts["visual"] == {"total": 593_930, "trainable": 593_418}
    assert counts["fused"] == {"total": 4_933_642, "trainable": 4_931_082}
    assert counts["fused_resnet50"] == {"total": 28_521_354, "trainable": 28_465_674}
    for key in ("total", "trainable"):
        parts = counts["audio_branch"][key] + counts["image_branch"][key] + counts["fusion"][key]
        assert counts["fused"][key] == parts
        assert counts["fused_resnet50"][key] - counts["fused"][key] == (
            counts["image_branch_resnet50"][key] - counts["image_branch"][key]
        )
    # the log-mel front end adds only the 256 -> 512 projection
    logmel = build_audio_branch(PAPER, d_audio=256)
    assert logmel.count_params() - counts["audio_branch"]["total"] == 256 * 512 + 512


def test_multihead_rejects_mismatched_visual_input(tiny):
    other = build_visual_model(TINY, d_visual=D_VISUAL + 1)
    with pytest.raises(ValueError, match="visual input"):
        build_multihead_model(tiny["audio"], other, tiny["fused"])
    with pytest.raises(ValueError, match="inputs"):
        build_multihead_model(tiny["audio"], tiny["visual"], tiny["audio"])


def test_save_load_safe_mode_identical(tiny, tmp_path):
    x = _inputs(3)
    before = tiny["multihead"].predict(x, verbose=0)
    path = tmp_path / "dualstream.keras"
    tiny["multihead"].save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded.predict(x, verbose=0)
    for head in HEADS:
        np.testing.assert_array_equal(after[head], before[head])
    # a 1-s segment through the reloaded model too (free time axis survives serialisation)
    one = _inputs(1)
    np.testing.assert_array_equal(loaded.predict(one, verbose=0)["fused"], tiny["fused"].predict(one, verbose=0))


def test_training_steps_reduce_loss():
    """Ten full-batch AdamW steps on one random batch: the training loss falls by at least a third.

    Measured in training mode (``fit`` history): after so few steps the BatchNorm moving statistics
    are still near their start, so an inference-mode ``evaluate`` would not show the progress.
    """
    keras.utils.set_random_seed(1)
    cfg = DualStreamModel(**{**TINY.model_dump(), "dropout": 0.0})
    model = build_fused_model(cfg, d_audio=D_AUDIO, d_visual=D_VISUAL)
    model.compile(optimizer=make_optimizer(learning_rate=3e-3), loss="categorical_crossentropy")
    x = _inputs(2, n=16, rng=np.random.default_rng(1))
    y = keras.utils.to_categorical(np.arange(16) % 10, 10)
    loss = model.fit(x, y, epochs=10, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.67 * loss[0], loss


def _resnet(size: int) -> keras.Model:
    return keras.applications.ResNet50(include_top=False, weights=None, pooling="avg", input_shape=(size, size, 3))


def test_on_frames_backbone_is_trainable():
    backbone = _resnet(32)
    backbone.trainable = False  # as a feature extractor would hand it over
    model = build_fused_model_on_frames(TINY, backbone=backbone, d_audio=D_AUDIO, image_size=32)
    assert model.input["visual"].shape == (None, None, 32, 32, 3)
    wrapped = model.get_layer("backbone")
    assert wrapped.trainable and backbone.trainable
    n_backbone = count_params(backbone)["trainable"]
    assert n_backbone == 23_534_592  # ResNet50 conv base without BN statistics
    assert (
        count_params(model)["trainable"]
        == n_backbone + count_params(build_fused_model(TINY, d_audio=D_AUDIO, d_visual=2048))["trainable"]
    )
    with pytest.raises(ValueError, match="64x64"):
        build_fused_model_on_frames(TINY, backbone=_resnet(32), d_audio=D_AUDIO, image_size=64)


@pytest.mark.slow
def test_on_frames_forward_and_multihead():
    size = 32
    fused = build_fused_model_on_frames(TINY, backbone=_resnet(size), d_audio=D_AUDIO, image_size=size)
    visual = build_visual_model_on_frames(TINY, backbone=_resnet(size), image_size=size)
    audio = build_audio_model(TINY, d_audio=D_AUDIO)
    multihead = build_multihead_model(audio, visual, fused)
    x = {
        "audio": RNG.standard_normal((2, 10, D_AUDIO)).astype("float32"),
        "visual": RNG.random((2, 1, size, size, 3)).astype("float32"),
    }
    out = multihead.predict(x, verbose=0)
    for head in HEADS:
        assert out[head].shape == (2, 10)
        np.testing.assert_allclose(out[head].sum(axis=1), 1.0, atol=1e-5)
