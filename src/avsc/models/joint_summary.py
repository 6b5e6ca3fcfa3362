"""Parameter counts of the joint-optimization system per module and per training strategy.

The paper gives no parameter counts, so these are ours (pinned in tests/models/test_joint.py).
"""

from __future__ import annotations

import keras

from avsc.models.backbone import PAPER_IMAGE_SIZE, BackboneKind, build_backbone, embedding_dim
from avsc.models.counting import count_params
from avsc.models.joint import (
    AE,
    N_CLASSES,
    SC,
    VE,
    JointModel,
    build_audio_only,
    build_joint_fused,
    build_visual_only,
    set_strategy,
)


def parameter_counts(
    cfg: JointModel | None = None,
    *,
    n_bins: int = 256,
    backbone: BackboneKind = "efficientnetv2s",
    image_size: int | None = None,
    n_classes: int = N_CLASSES,
) -> dict:
    """Weights of every module and system, at the paper's input sizes by default.

    Parameters
    ----------
    cfg : JointModel, optional
        AE/SC architecture (default: Table 1).
    n_bins : int
        Feature bins per channel: 256 (FBank) or 290 (scalogram).
    backbone : {"resnet50", "efficientnetv2s", "vgg16"}
        VE family (random weights: only the shapes matter).
    image_size : int, optional
        VE input size (default: the paper's, 288 for EfficientNetV2-S, 224 for ResNet50).

    Returns
    -------
    dict
        ``acoustic_encoder``, ``visual_encoder`` (incl. its 12-weight preprocessing layer for the
        caffe families), ``audio_only``, ``visual_only`` (SC + VE): ``{"total", "trainable"}``;
        ``scene_classifier``: ``{"audio", "visual", "fused"}`` each ``{"total", "trainable"}``;
        ``fused`` (joint system on raw images): ``{"total", "trainable": {"pipeline", "joint"}}``;
        and the inputs ``n_bins``, ``backbone``, ``image_size``, ``visual_dim``.
    """
    cfg = cfg or JointModel()
    size = int(image_size or PAPER_IMAGE_SIZE[backbone])
    dim = embedding_dim(backbone)
    keras.backend.clear_session()
    audio = build_audio_only(cfg, n_bins=n_bins, n_classes=n_classes)
    visual = build_visual_only(cfg, visual_dim=dim, n_classes=n_classes)
    base, _ = build_backbone(kind=backbone, image_size=size, quiet=True)
    fused = build_joint_fused(cfg, n_bins=n_bins, backbone=base, kind=backbone, n_classes=n_classes)
    ve = count_params(fused.get_layer(VE))
    joint_trainable = count_params(fused)["trainable"]
    set_strategy(fused, "pipeline", dropout=cfg.dropout)
    out = {
        "acoustic_encoder": count_params(audio.get_layer(AE)),
        "visual_encoder": ve,
        "scene_classifier": {
            "audio": count_params(audio.get_layer(SC)),
            "visual": count_params(visual.get_layer(SC)),
            "fused": count_params(fused.get_layer(SC)),
        },
        "audio_only": count_params(audio),
        "visual_only": {
            "total": count_params(visual)["total"] + ve["total"],
            "trainable": count_params(visual)["trainable"],
        },
        "fused": {
            "total": count_params(fused)["total"],
            "trainable": {"pipeline": count_params(fused)["trainable"], "joint": joint_trainable},
        },
        "n_bins": n_bins,
        "backbone": backbone,
        "image_size": size,
        "visual_dim": dim,
    }
    keras.backend.clear_session()
    return out


__all__ = ["parameter_counts"]
