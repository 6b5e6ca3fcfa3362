"""Image augmentation of the joint system: active in training only, value range, parameter mapping."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from avsc.config.models import ImageAugmentation
from avsc.models.augment import build_image_augmentation

RNG = np.random.default_rng(0)


def _images(n: int = 4, size: int = 32) -> np.ndarray:
    return RNG.uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_identity_at_inference_and_random_in_training():
    aug = build_image_augmentation(ImageAugmentation(seed=3))
    x = _images()
    np.testing.assert_allclose(aug(x, training=False), x, atol=1e-3)  # Rescaling 1/255 then 255
    inp = keras.Input((32, 32, 3))
    model = keras.Model(inp, aug(inp))
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-3)
    y = np.asarray(aug(x, training=True))
    assert y.shape == x.shape and not np.allclose(y, x, atol=1.0)
    assert y.min() >= 0.0 and y.max() <= 255.0 + 1e-3


def test_layers_follow_the_config():
    aug = build_image_augmentation(ImageAugmentation(translate=0.1, zoom=0.3, saturation=0.4, hue=0.1))
    names = [layer.name for layer in aug.layers]
    assert names == [
        "image_augmentation_shift",
        "image_augmentation_zoom",
        "image_augmentation_flip",
        "image_augmentation_to_unit",
        "image_augmentation_color",
        "image_augmentation_to_255",
    ]
    zoom = aug.get_layer("image_augmentation_zoom")
    assert tuple(zoom.height_factor) == (-0.3, 0.0) and tuple(zoom.width_factor) == (-0.3, 0.0)
    color = aug.get_layer("image_augmentation_color")
    lo, hi = color.saturation_factor
    # Keras multiplies saturation by f / (1 - f): the drawn range maps to 1 -+ 0.4
    assert lo / (1 - lo) == pytest.approx(0.6) and hi / (1 - hi) == pytest.approx(1.4)
    assert tuple(color.hue_factor) == (0.0, 0.2)  # Keras shifts hue by +- factor / 2 of the circle
    assert color.value_range == (0.0, 1.0)


def test_flip_only_is_a_mirror():
    cfg = ImageAugmentation(translate=0, zoom=0, brightness=0, contrast=0, saturation=0, hue=0)
    aug = build_image_augmentation(cfg)
    assert [layer.name for layer in aug.layers] == ["image_augmentation_flip"]
    x = _images(16)
    y = np.asarray(aug(x, training=True))
    for a, b in zip(x, y, strict=True):
        assert np.array_equal(a, b) or np.array_equal(a[:, ::-1], b)
