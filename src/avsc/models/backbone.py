"""Frozen VGG16 conv base used as the visual feature extractor (SE-CRNN sec. 2.2).

Nothing can be downloaded here, so the backbone is built with ``weights=None`` and loads a local
weights file (``features.visual.weights``, e.g. the Places365 VGG16 of Kalliatakis [8] without top);
without one it stays random and frozen, and a WARNING says so.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import keras
import numpy as np

from avsc.errors import ConfigError

log = logging.getLogger(__name__)

#: ImageNet/Places365 VGG16 "caffe" preprocessing: BGR channel means subtracted, no scaling.
VGG16_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)

BACKBONE_NAME = "vgg16"
EMBEDDING_DIM = 512


def preprocess_frames(frames_uint8: np.ndarray) -> np.ndarray:
    """``keras.applications.vgg16.preprocess_input`` semantics in numpy (no Lambda layer needed).

    ``frames_uint8``: RGB frames ``(..., H, W, 3)`` with values 0-255. Returns float32 BGR frames with
    the per-channel means subtracted.
    """
    frames = np.asarray(frames_uint8)
    if frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames (..., H, W, 3), got shape {frames.shape}")
    bgr = frames[..., ::-1].astype(np.float32)
    return bgr - VGG16_BGR_MEAN


def build_visual_backbone(*, image_size: int, weights_path: str | Path | None = None,
                          quiet: bool = False) -> tuple[keras.Model, bool]:
    """VGG16 conv base + global average pooling (512-d per frame), frozen.

    Returns ``(model, pretrained)``. ``weights_path`` is loaded with ``model.load_weights``; a missing
    file or weights that do not fit raise :class:`ConfigError` naming the file. Without weights the
    backbone is random (a WARNING is logged unless ``quiet``, used for parameter counting only).
    """
    model = keras.applications.VGG16(include_top=False, weights=None,
                                      input_shape=(image_size, image_size, 3), pooling="avg")
    pretrained = False
    if weights_path:
        path = Path(weights_path)
        if not path.is_file():
            raise ConfigError(f"features.visual.weights: VGG16 weights file not found: {path}")
        # Keras 3 only *warns* (and keeps random weights) for some mismatches: treat warnings as errors.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(str(path))
            except Exception as exc:  # noqa: BLE001 - keras raises ValueError/KeyError/OSError variants
                raise ConfigError(f"features.visual.weights: {path} does not fit a VGG16 conv base "
                                  f"(include_top=False): {exc}") from None
        problems = [str(w.message) for w in caught
                    if issubclass(w.category, UserWarning) and ("load" in str(w.message).lower()
                                                               or "skipping" in str(w.message).lower())]
        if problems:
            raise ConfigError(f"features.visual.weights: {path} does not fit a VGG16 conv base "
                              f"(include_top=False): {problems[0]}")
        pretrained = True
    elif not quiet:
        log.warning("VGG16 backbone has RANDOM weights (features.visual.weights is null and nothing can be "
                    "downloaded): visual features will not be those of the paper's Places365 VGG16")
    model.trainable = False
    return model, pretrained
