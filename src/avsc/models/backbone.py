"""Frozen image backbones (conv base + global average pooling) and their exact Keras preprocessing.

Three families: VGG16 (SE-CRNN sec. 2.2, 512-d), ResNet50 and EfficientNetV2-S (joint-optimization
paper sec. 2.2.2, 2048-d and 1280-d). Nothing can be downloaded here, so every backbone is built with
``weights=None`` and loads a local weights file (e.g. a Places365 fine-tuned conv base saved with
``model.save_weights``, or Keras' own ``*_notop.h5``); without one it stays random, a WARNING says
so, and ``pretrained`` is False so that runs can be tagged.

Preprocessing follows ``keras.applications.<family>.preprocess_input``: VGG16 and ResNet50 use the
"caffe" mode (RGB -> BGR, ImageNet BGR means subtracted, no scaling); EfficientNetV2's is a
pass-through because the Keras model rescales and normalises its 0-255 RGB input itself
(``include_preprocessing=True``). :func:`preprocess_frames` applies it in numpy;
:func:`preprocessing_layer` is the same operation as built-in Keras layers, for models that take raw
images (joint optimization).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Literal, cast

import keras
import numpy as np
from keras import layers

from avsc.errors import ConfigError

log = logging.getLogger(__name__)

BackboneKind = Literal["vgg16", "resnet50", "efficientnetv2s"]
KINDS: tuple[str, ...] = ("vgg16", "resnet50", "efficientnetv2s")

#: ImageNet/Places365 "caffe" preprocessing: BGR channel means subtracted, no scaling.
VGG16_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: Embedding size per kind (the conv base's channels after global average pooling).
EMBEDDING_DIMS = {"vgg16": 512, "resnet50": 2048, "efficientnetv2s": 1280}
#: Input sizes of the papers: SE-CRNN VGG16 224; joint optimization ResNet50 224, EfficientNetV2-S 288.
PAPER_IMAGE_SIZE = {"vgg16": 224, "resnet50": 224, "efficientnetv2s": 288}
_LABELS = {"vgg16": "VGG16", "resnet50": "ResNet50", "efficientnetv2s": "EfficientNetV2-S"}

#: The SE-CRNN's backbone (kept for avsc.models.secrnn).
BACKBONE_NAME = "vgg16"
EMBEDDING_DIM = EMBEDDING_DIMS["vgg16"]


def _check_kind(kind: str) -> BackboneKind:
    if kind not in KINDS:
        raise ConfigError(f"unknown visual backbone {kind!r}; expected one of {', '.join(KINDS)}")
    return cast(BackboneKind, kind)


def embedding_dim(kind: BackboneKind) -> int:
    """Size of the pooled embedding of a backbone: 512 (vgg16), 2048 (resnet50), 1280 (efficientnetv2s)."""
    return EMBEDDING_DIMS[_check_kind(kind)]


def _applications_module(kind: str):
    return {
        "vgg16": keras.applications.vgg16,
        "resnet50": keras.applications.resnet50,
        "efficientnetv2s": keras.applications.efficientnet_v2,
    }[kind]


def preprocess_frames(frames_uint8: np.ndarray, *, kind: BackboneKind = "vgg16") -> np.ndarray:
    """``keras.applications.<family>.preprocess_input`` applied to a copy of RGB frames, in numpy.

    Parameters
    ----------
    frames_uint8 : numpy.ndarray
        RGB frames ``(..., H, W, 3)`` with values 0-255 (any numeric dtype; never modified).
    kind : {"vgg16", "resnet50", "efficientnetv2s"}
        Backbone family.

    Returns
    -------
    numpy.ndarray
        float32, same shape: BGR minus the ImageNet means (vgg16, resnet50) or the 0-255 RGB values
        unchanged (efficientnetv2s).
    """
    frames = np.array(frames_uint8, dtype=np.float32, copy=True)
    if frames.shape[-1:] != (3,):
        raise ValueError(f"expected RGB frames (..., H, W, 3), got shape {frames.shape}")
    out = _applications_module(_check_kind(kind)).preprocess_input(frames)
    return np.asarray(out, dtype=np.float32)


def preprocessing_layer(kind: BackboneKind, *, name: str | None = None) -> layers.Layer:
    """:func:`preprocess_frames` as one frozen built-in layer (safe-mode serialisable).

    ``caffe`` families: a 1x1 ``Conv2D`` whose fixed kernel swaps R and B and whose bias subtracts the
    BGR means (exact up to float rounding). EfficientNetV2-S: ``Identity``. Input: RGB, 0-255 floats.
    """
    kind = _check_kind(kind)
    name = name or f"{kind}_preprocess"
    if kind == "efficientnetv2s":
        return layers.Identity(name=name)
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for out_channel, in_channel in enumerate((2, 1, 0)):  # BGR output from RGB input
        kernel[0, 0, in_channel, out_channel] = 1.0
    layer = layers.Conv2D(3, 1, name=name, trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([kernel, -VGG16_BGR_MEAN])
    return layer


def _architecture(kind: str, image_size: int) -> keras.Model:
    shape = (image_size, image_size, 3)
    if kind == "vgg16":
        return keras.applications.VGG16(include_top=False, weights=None, input_shape=shape, pooling="avg")
    if kind == "resnet50":
        return keras.applications.ResNet50(include_top=False, weights=None, input_shape=shape, pooling="avg")
    return keras.applications.EfficientNetV2S(
        include_top=False, weights=None, input_shape=shape, pooling="avg", include_preprocessing=True
    )


def load_backbone_weights(model: keras.Model, path: str | Path, *, kind: BackboneKind, setting: str) -> None:
    """``model.load_weights(path)``; a missing file or weights that do not fit are a one-line ConfigError.

    Keras 3 only *warns* (and keeps random weights) for some mismatches, so those warnings are errors too.
    """
    path = Path(path)
    label = _LABELS[kind]
    if not path.is_file():
        raise ConfigError(f"{setting}: {label} weights file not found: {path}")
    what = f"{setting}: {path} does not fit a {label} conv base (include_top=False)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
        except Exception as exc:
            raise ConfigError(f"{what}: {' '.join(str(exc).split())[:300]}") from None
    problems = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning)
        and ("load" in str(w.message).lower() or "skipping" in str(w.message).lower())
    ]
    if problems:
        raise ConfigError(f"{what}: {' '.join(problems[0].split())[:300]}")


def build_backbone(
    *,
    kind: BackboneKind,
    image_size: int,
    weights_path: str | Path | None = None,
    quiet: bool = False,
    trainable: bool = False,
    setting: str = "features.visual.weights",
) -> tuple[keras.Model, bool]:
    """Conv base of ``kind`` + global average pooling: 512 / 2048 / 1280-d per RGB frame.

    Parameters
    ----------
    kind : {"vgg16", "resnet50", "efficientnetv2s"}
        Backbone family (Keras application architecture, no classifier).
    image_size : int
        Square input size (the conv weights do not depend on it).
    weights_path : str or Path, optional
        Local weights file loaded with ``model.load_weights``; nothing is ever downloaded.
    quiet : bool
        Do not log the random-weights WARNING (parameter counting only).
    trainable : bool
        Trainable flag of the returned model (False: frozen, BatchNormalization in inference mode).
    setting : str
        Name of the setting that holds ``weights_path``, for error messages.

    Returns
    -------
    tuple
        ``(model, pretrained)``: input ``(image_size, image_size, 3)`` preprocessed with
        :func:`preprocess_frames` (same ``kind``), output ``(embedding_dim(kind),)``; ``pretrained`` is
        True only when a weights file was loaded.

    Raises
    ------
    ConfigError
        For an unknown kind, a missing weights file, or weights that do not fit (the file is named).
    """
    kind = _check_kind(kind)
    model = _architecture(kind, int(image_size))
    pretrained = False
    if weights_path:
        load_backbone_weights(model, weights_path, kind=kind, setting=setting)
        pretrained = True
    elif not quiet:
        log.warning(
            "%s backbone has RANDOM weights (%s is null and nothing can be downloaded): visual features "
            "will not be those of a pretrained %s",
            _LABELS[kind],
            setting,
            _LABELS[kind],
        )
    model.trainable = bool(trainable)
    return model, pretrained


def build_visual_backbone(
    *, image_size: int, weights_path: str | Path | None = None, quiet: bool = False
) -> tuple[keras.Model, bool]:
    """The SE-CRNN's frozen VGG16 conv base + GAP (512-d): ``build_backbone(kind="vgg16", ...)``."""
    return build_backbone(kind="vgg16", image_size=image_size, weights_path=weights_path, quiet=quiet)


__all__ = [
    "BACKBONE_NAME",
    "EMBEDDING_DIM",
    "EMBEDDING_DIMS",
    "KINDS",
    "PAPER_IMAGE_SIZE",
    "VGG16_BGR_MEAN",
    "BackboneKind",
    "build_backbone",
    "build_visual_backbone",
    "embedding_dim",
    "load_backbone_weights",
    "preprocess_frames",
    "preprocessing_layer",
]
