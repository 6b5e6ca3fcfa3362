"""The image backbone of the visual feature stage, rebuilt for the systems that run it inside a model
(on raw frames): same family, same size, the very weights the cached embeddings were computed with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from avsc.config.settings import Params
from avsc.errors import DataError
from avsc.features.layout import BACKBONE_FILE, VISUAL_DIR, feature_dir

if TYPE_CHECKING:
    from avsc.models.backbone import BackboneKind


def stage_backbone(params: Params, root_dir: Path, *, trainable: bool) -> Any:
    """The active system's backbone with the visual store's weights (``backbone.weights.h5``)."""
    from avsc.models.backbone import build_backbone

    cfg = params.visual_features
    weights = feature_dir(params, root_dir, VISUAL_DIR) / BACKBONE_FILE
    if not weights.is_file():
        raise DataError(f"{weights}: backbone weights missing; run `dvc repro features_visual`")
    model, _ = build_backbone(
        kind=cfg.backbone,
        image_size=cfg.image_size,
        weights_path=weights,
        trainable=trainable,
        setting=f"features.visual.{params.system}.weights",
    )
    return model


def with_preprocessing(backbone: Any, *, kind: BackboneKind, image_size: int) -> Any:
    """``backbone`` behind its family's preprocessing: raw RGB 0-255 frames in, embeddings out."""
    import keras

    from avsc.models.backbone import preprocessing_layer

    inp = keras.Input((image_size, image_size, 3), name="rgb")
    return keras.Model(inp, backbone(preprocessing_layer(kind)(inp)), name="backbone")
