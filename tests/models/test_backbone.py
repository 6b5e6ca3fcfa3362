"""Image backbones: architectures, embedding sizes, local weights, preprocessing semantics."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from avsc.errors import ConfigError
from avsc.models.backbone import (
    KINDS,
    PAPER_IMAGE_SIZE,
    build_backbone,
    build_visual_backbone,
    embedding_dim,
    preprocess_frames,
    preprocessing_layer,
)

RNG = np.random.default_rng(0)
SIZE = 32
_BUILT: dict[str, keras.Model] = {}


def _backbone(kind: str) -> keras.Model:
    """One random backbone per kind for the whole module (EfficientNetV2-S takes ~10 s to build)."""
    if kind not in _BUILT:
        _BUILT[kind] = build_backbone(kind=kind, image_size=SIZE, quiet=True)[0]
    return _BUILT[kind]


def _frames(n: int = 2) -> np.ndarray:
    return RNG.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "kind,dim",
    [("vgg16", 512), ("resnet50", 2048), pytest.param("efficientnetv2s", 1280, marks=pytest.mark.slow)],
)
def test_builds_with_embedding_dim(kind, dim):
    model = _backbone(kind)
    assert embedding_dim(kind) == dim
    assert model.output_shape == (None, dim)
    assert model.input_shape == (None, SIZE, SIZE, 3)
    assert not model.trainable and not model.trainable_weights
    out = model.predict(preprocess_frames(_frames(), kind=kind), verbose=0)
    assert out.shape == (2, dim) and np.all(np.isfinite(out))


def test_paper_sizes_and_unknown_kind():
    assert PAPER_IMAGE_SIZE == {"vgg16": 224, "resnet50": 224, "efficientnetv2s": 288}
    with pytest.raises(ConfigError, match="unknown visual backbone 'vit'"):
        embedding_dim("vit")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown visual backbone"):
        build_backbone(kind="vit", image_size=SIZE)  # type: ignore[arg-type]


def test_random_weights_warn_and_trainable_flag(caplog):
    with caplog.at_level(logging.WARNING):
        model, pretrained = build_backbone(kind="resnet50", image_size=SIZE, trainable=True)
    assert not pretrained
    assert any("RANDOM" in r.getMessage() and "ResNet50" in r.getMessage() for r in caplog.records)
    assert model.trainable and len(model.trainable_weights) > 100


def _round_trip(kind: str, tmp_path) -> None:
    model = _backbone(kind)
    path = tmp_path / f"{kind}.weights.h5"
    model.save_weights(path)
    loaded, pretrained = build_backbone(kind=kind, image_size=SIZE, weights_path=path)
    assert pretrained and not loaded.trainable
    x = preprocess_frames(_frames(), kind=kind)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("kind", ["vgg16", "resnet50"])
def test_weights_round_trip(kind, tmp_path):
    _round_trip(kind, tmp_path)


@pytest.mark.slow
def test_weights_round_trip_efficientnet(tmp_path):
    _round_trip("efficientnetv2s", tmp_path)


def test_weights_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.weights.h5"):
        build_backbone(kind="resnet50", image_size=SIZE, weights_path=tmp_path / "missing.weights.h5")
    vgg = tmp_path / "vgg16.weights.h5"
    _backbone("vgg16").save_weights(vgg)
    with pytest.raises(ConfigError, match=r"vgg16\.weights\.h5 does not fit a ResNet50 conv base") as info:
        build_backbone(kind="resnet50", image_size=SIZE, weights_path=vgg, setting="model.joint.weights")
    assert "\n" not in str(info.value) and str(info.value).startswith("model.joint.weights: ")


def test_visual_backbone_is_vgg16():
    model, pretrained = build_visual_backbone(image_size=SIZE, quiet=True)
    assert model.name == "vgg16" and model.output_shape == (None, 512) and not pretrained


@pytest.mark.parametrize("kind", KINDS)
def test_preprocess_frames_is_keras_preprocess_input(kind):
    frames = _frames(3)
    before = frames.copy()
    module = {"vgg16": "vgg16", "resnet50": "resnet50", "efficientnetv2s": "efficientnet_v2"}[kind]
    ref = getattr(keras.applications, module).preprocess_input(frames.astype("float32"))
    ours = preprocess_frames(frames, kind=kind)
    assert ours.dtype == np.float32 and ours.shape == frames.shape
    np.testing.assert_array_equal(ours, np.asarray(ref))
    np.testing.assert_array_equal(frames, before)  # the input is never modified
    if kind == "efficientnetv2s":
        np.testing.assert_array_equal(ours, frames.astype("float32"))  # the model rescales itself
    else:
        np.testing.assert_allclose(ours[..., 0], frames[..., 2] - 103.939, atol=1e-4)  # B - mean(B)


def test_preprocess_frames_default_is_vgg16():
    frames = _frames(1)
    np.testing.assert_array_equal(preprocess_frames(frames), preprocess_frames(frames, kind="vgg16"))


@pytest.mark.parametrize("kind", KINDS)
def test_preprocessing_layer_matches_numpy(kind, tmp_path):
    frames = _frames(2)
    inp = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inp, preprocessing_layer(kind)(inp))
    np.testing.assert_allclose(
        model.predict(frames.astype("float32"), verbose=0), preprocess_frames(frames, kind=kind), atol=1e-4
    )
    assert not model.trainable_weights
    model.save(tmp_path / "p.keras")
    reloaded = keras.saving.load_model(tmp_path / "p.keras", safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(frames.astype("float32"), verbose=0), preprocess_frames(frames, kind=kind), atol=1e-4
    )
