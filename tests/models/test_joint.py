"""Joint-optimization models: Table 1 shapes, parameter counts, strategies, segment averaging, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from avsc.config.models import JointModel
from avsc.errors import ConfigError, DataError
from avsc.features.longterm import frame_seconds
from avsc.models.backbone import build_backbone
from avsc.models.counting import count_params
from avsc.models.joint import (
    AE,
    SC,
    VE,
    build_acoustic_encoder,
    build_audio_only,
    build_joint_fused,
    build_multihead,
    build_pipeline_fused,
    build_scene_classifier,
    build_visual_encoder,
    build_visual_only,
    copy_encoder,
    segment_average,
    set_strategy,
)
from avsc.models.joint_summary import parameter_counts
from avsc.training.sgdr import SGDRSchedule, build_optimizer

CFG = JointModel()
RNG = np.random.default_rng(0)
SIZE = 32
AE_VARIABLES = sorted(
    [f"ae_conv{i}" for i in range(1, 5)]
    + [f"ae_conv{i}_bn" for i in range(1, 5)]
    + ["ae1_dense", "ae1_bn", "ae2_dense", "ae2_bn"]
)
SC_VARIABLES = ["sc1_bn", "sc1_dense", "sc_out"]


def _trainable_layers(model: keras.Model) -> list[str]:
    return sorted({w.path.split("/")[0] for w in model.trainable_weights})


def _audio(n: int, n_bins: int = 256) -> np.ndarray:
    return RNG.standard_normal((n, 2, n_bins)).astype("float32")


@pytest.fixture(scope="module")
def vgg():
    """A small random VGG16 conv base (the fastest backbone to build) standing in for the paper's VE."""
    return build_backbone(kind="vgg16", image_size=SIZE, quiet=True)[0]


@pytest.mark.parametrize(
    "n_bins,lengths,flat",
    [
        (256, [(254, 127), (125, 63), (61, 31), (29, 15)], 512 + 15 * 32),
        (290, [(288, 144), (142, 71), (69, 35), (33, 17)], 580 + 17 * 32),
    ],
)
def test_table1_block_shapes(n_bins, lengths, flat):
    ae = build_acoustic_encoder(CFG, n_bins=n_bins)
    assert ae.input_shape == (None, 2, n_bins)
    for i, ((conv, pool), channels) in enumerate(zip(lengths, (4, 8, 16, 32), strict=True), start=1):
        layer = ae.get_layer(f"ae_conv{i}")
        assert layer.kernel_size == (3,) and layer.strides == (1,) and layer.padding == "valid"
        assert layer.output.shape == (None, conv, channels)
        assert ae.get_layer(f"ae_pool{i}").output.shape == (None, pool, channels)
    assert ae.get_layer("ae_residual_concat").output.shape == (None, flat)
    assert ae.get_layer("ae1_dense").units == 2048 and ae.get_layer("ae1_dropout").rate == 0.5
    assert ae.output_shape == (None, 1024)
    sc = build_scene_classifier(CFG, input_dim=1024)
    assert sc.get_layer("sc1_dense").units == 1024 and sc.output_shape == (None, 10)


def test_avg_pool_is_pytorch_avgpool1d_with_padding_1():
    ae = build_acoustic_encoder(CFG, n_bins=256)
    pad, pool = ae.get_layer("ae_pool1_pad"), ae.get_layer("ae_pool1")
    x = np.arange(1.0, 6.0, dtype="float32").reshape(1, 5, 1)
    # torch.nn.AvgPool1d(3, stride=2, padding=1) (count_include_pad=True): (0+1+2)/3, (2+3+4)/3, (4+5+0)/3
    np.testing.assert_allclose(np.asarray(pool(pad(x))).ravel(), [1.0, 3.0, 3.0])


def test_residual_concat_carries_the_input():
    ae = build_acoustic_encoder(CFG, n_bins=256)
    x = _audio(2)
    concat = keras.Model(ae.input, ae.get_layer("ae_residual_concat").output)(x)
    np.testing.assert_array_equal(np.asarray(concat)[:, :512], x.reshape(2, 512))


def test_parameter_counts_pinned():
    assert count_params(build_acoustic_encoder(CFG, n_bins=256)) == {"total": 4_146_468, "trainable": 4_140_204}
    assert count_params(build_acoustic_encoder(CFG, n_bins=290)) == {"total": 4_416_804, "trainable": 4_410_540}
    assert count_params(build_scene_classifier(CFG, input_dim=1024)) == {"total": 1_063_946, "trainable": 1_061_898}
    assert count_params(build_audio_only(CFG, n_bins=256)) == {"total": 5_210_414, "trainable": 5_202_102}
    assert count_params(build_visual_only(CFG, visual_dim=1280)) == {"total": 1_326_090, "trainable": 1_324_042}
    fused = build_pipeline_fused(CFG, n_bins=256, visual_dim=1280)
    assert count_params(fused) == {"total": 6_521_134, "trainable": 2_372_618}  # pipeline: SC on 1024 + 1280
    assert count_params(set_strategy(fused, "joint")) == {"total": 6_521_134, "trainable": 6_512_822}


@pytest.mark.slow
def test_parameter_counts_at_paper_sizes():
    c = parameter_counts(n_bins=290, backbone="efficientnetv2s")  # best system: scalogram + EfficientNetV2-S 288
    assert c["image_size"] == 288 and c["visual_dim"] == 1280
    assert c["acoustic_encoder"] == {"total": 4_416_804, "trainable": 4_410_540}
    assert c["visual_encoder"] == {"total": 20_331_360, "trainable": 0}
    assert c["scene_classifier"]["fused"] == {"total": 2_374_666, "trainable": 2_372_618}
    assert c["visual_only"] == {"total": 21_657_450, "trainable": 1_324_042}
    assert c["fused"] == {"total": 27_122_830, "trainable": {"pipeline": 2_372_618, "joint": 6_783_158}}
    r = parameter_counts(n_bins=256, backbone="resnet50")
    assert r["image_size"] == 224 and r["visual_encoder"] == {"total": 23_587_724, "trainable": 0}
    assert r["fused"] == {"total": 30_895_290, "trainable": {"pipeline": 3_159_050, "joint": 7_299_254}}


def test_strategy_switch_changes_exactly_what_trains():
    model = build_pipeline_fused(CFG, n_bins=256, visual_dim=16)
    assert _trainable_layers(model) == SC_VARIABLES and len(model.trainable_weights) == 6
    assert model.get_layer(AE).get_layer("ae1_dropout").rate == 0.0
    set_strategy(model, "joint")
    assert _trainable_layers(model) == sorted(AE_VARIABLES + SC_VARIABLES) and len(model.trainable_weights) == 30
    assert model.get_layer(AE).get_layer("ae1_dropout").rate == 0.5
    set_strategy(model, "pipeline")
    assert _trainable_layers(model) == SC_VARIABLES
    with pytest.raises(ConfigError, match="strategy must be one of pipeline, joint"):
        set_strategy(model, "end-to-end")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has no 'acoustic_encoder'"):
        set_strategy(build_visual_only(CFG, visual_dim=16), "joint")


def test_visual_encoder_always_frozen(vgg):
    model = build_joint_fused(CFG, n_bins=256, backbone=vgg, kind="vgg16")
    assert _trainable_layers(model) == sorted(AE_VARIABLES + SC_VARIABLES)
    set_strategy(model, "pipeline")
    assert _trainable_layers(model) == SC_VARIABLES
    assert not model.get_layer(VE).trainable and not model.get_layer(VE).trainable_weights
    assert model.input["visual"].shape == (None, SIZE, SIZE, 3)


def test_frozen_encoder_is_a_deterministic_extractor():
    model = build_pipeline_fused(CFG, n_bins=256, visual_dim=16)
    embed = keras.Model(model.input, model.get_layer("fusion_concat").output)
    x = {"audio": _audio(4), "visual": RNG.standard_normal((4, 16)).astype("float32")}
    np.testing.assert_array_equal(embed(x, training=True), embed(x, training=True))
    set_strategy(model, "joint")
    assert not np.array_equal(embed(x, training=True), embed(x, training=True))  # AE dropout acts


@pytest.mark.parametrize("strategy", ["pipeline", "joint"])
def test_one_training_step_updates_only_the_trainable_modules(strategy):
    model = build_pipeline_fused(CFG, n_bins=256, visual_dim=16, strategy=strategy)
    model.compile(optimizer=build_optimizer(SGDRSchedule(), steps_per_epoch=1), loss="categorical_crossentropy")
    ae_before = [w.copy() for w in model.get_layer(AE).get_weights()]  # incl. BN moving statistics
    sc_before = [w.copy() for w in model.get_layer(SC).get_weights()]
    x = {"audio": _audio(16), "visual": RNG.standard_normal((16, 16)).astype("float32")}
    y = keras.utils.to_categorical(RNG.integers(0, 10, 16), 10)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ae_changed = [not np.array_equal(a, b) for a, b in zip(ae_before, model.get_layer(AE).get_weights(), strict=True)]
    sc_changed = [not np.array_equal(a, b) for a, b in zip(sc_before, model.get_layer(SC).get_weights(), strict=True)]
    assert all(sc_changed[:2])  # SC dense kernel and bias
    assert all(ae_changed) if strategy == "joint" else not any(ae_changed)


def test_backbone_dropout_disabled_in_visual_encoder():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    fake = keras.Model(inp, keras.layers.Dropout(0.5, name="stochastic_depth")(x), name="fake")
    ve = build_visual_encoder(fake, kind="efficientnetv2s", augmentation=None)
    images = RNG.uniform(0, 255, (3, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(ve(images, training=True), ve(images, training=False))
    assert fake.get_layer("stochastic_depth").rate == 0.0 and not ve.trainable


def test_segment_average_hand_made():
    proba = np.array([[1.0, 0.0], [0.2, 0.8], [0.0, 1.0], [0.5, 0.5], [0.6, 0.4]])
    second = np.array([0, 1, 0, 1, 1])
    out = segment_average(proba, second, 2)
    np.testing.assert_allclose(out, [[0.5, 0.5], [1.3 / 3, 1.7 / 3]])
    with pytest.raises(DataError, match=r"no frame in second\(s\) \[2\]"):
        segment_average(proba, second, 3)
    with pytest.raises(DataError, match="must lie in"):
        segment_average(proba, second + 1, 2)
    with pytest.raises(DataError, match="do not match"):
        segment_average(proba, second[:4], 2)


def test_segment_average_of_a_clip():
    seconds = frame_seconds(n_frames=59, n_seconds=10)
    proba = np.zeros((59, 10))
    proba[np.arange(59), seconds] = 1.0  # every frame votes for the class numbered as its second
    np.testing.assert_allclose(segment_average(proba, seconds, 10), np.eye(10))


def test_copy_encoder():
    audio = build_audio_only(CFG, n_bins=256)
    fused = build_pipeline_fused(CFG, n_bins=256, visual_dim=16)
    copy_encoder(audio, fused)
    for a, b in zip(audio.get_layer(AE).get_weights(), fused.get_layer(AE).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _assert_round_trip(model: keras.Model, x, path) -> keras.Model:
    before = model.predict(x, verbose=0)
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded.predict(x, verbose=0)
    if isinstance(before, dict):
        assert set(after) == set(before)
        for key in before:
            np.testing.assert_allclose(after[key], before[key], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    return loaded


def test_save_load_round_trip(vgg, tmp_path):
    audio = build_audio_only(CFG, n_bins=290)
    _assert_round_trip(audio, _audio(3, 290), tmp_path / "audio.keras")
    visual = build_visual_only(CFG, visual_dim=512)
    _assert_round_trip(visual, RNG.standard_normal((3, 512)).astype("float32"), tmp_path / "visual.keras")
    pipeline = build_pipeline_fused(CFG, n_bins=290, visual_dim=512)
    x = {"audio": _audio(3, 290), "visual": RNG.standard_normal((3, 512)).astype("float32")}
    loaded = _assert_round_trip(pipeline, x, tmp_path / "pipeline.keras")
    assert _trainable_layers(loaded) == SC_VARIABLES  # the strategy survives saving
    assert loaded.get_layer(AE).get_layer("ae1_dropout").rate == 0.0


def test_joint_and_multihead_round_trip(vgg, tmp_path):
    fused = build_joint_fused(CFG, n_bins=256, backbone=vgg, kind="vgg16")
    audio = build_audio_only(CFG, n_bins=256)
    visual = build_visual_only(CFG, visual_dim=512)
    images = RNG.uniform(0, 255, (3, SIZE, SIZE, 3)).astype("float32")
    x = {"audio": _audio(3), "visual": images}
    _assert_round_trip(fused, x, tmp_path / "joint.keras")
    multi = build_multihead(audio=audio, visual=visual, fused=fused)
    out = multi.predict(x, verbose=0)
    np.testing.assert_allclose(out["audio"], audio.predict(x["audio"], verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["fused"], fused.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    emb = fused.get_layer(VE).predict(images, verbose=0)
    np.testing.assert_allclose(out["visual"], visual.predict(emb, verbose=0), rtol=1e-5, atol=1e-6)
    _assert_round_trip(multi, x, tmp_path / "multihead.keras")
