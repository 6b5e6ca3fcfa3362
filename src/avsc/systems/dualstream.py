"""The dual-stream self-attention network (Hou et al. 2021) as a system.

The paper trains one network end to end on whole 10-s clips. Mapped onto the shared stages:

=============  ==========================================================================
stage          dual-stream
=============  ==========================================================================
train_audio    the audio branch with its own head (audio-only model, for the ``audio`` head)
train_visual   the image branch with its own head (image-only model, for the ``visual`` head)
train_fusion   the whole dual-stream network, end to end from scratch, as the paper trains it
finetune       the whole network again at the fine-tuning learning rate; saves the three-head model
=============  ==========================================================================

Training windows are whole clips (the paper's 10-s inputs, 10 one-second steps); evaluation
runs the model on each 1-s segment on its own, as the challenge's evaluation set (1-s clips)
requires: the same weights take any whole number of seconds. Heads: ``audio``, ``visual``,
``fused`` (final). ResNet50 is fine-tuned on the cached frames when
``model.dualstream.finetune_backbone`` is on (paper profile); otherwise the image branch trains on
cached frozen embeddings (quick default, a documented deviation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from avsc.config.settings import Params
from avsc.models.saving import load_keras_model, model_path
from avsc.systems.base import StepPlan
from avsc.systems.windows import WindowSystem
from avsc.training.arrays import ClipArrays

HEADS = ("audio", "visual", "fused")


def audio_dim(params: Params) -> int:
    """Width of the audio input: 256 log-mel bands, or the user's embedding size."""
    cfg = params.features.audio.dualstream
    return cfg.embedding_dim if cfg.kind == "embeddings" else cfg.n_bands


class DualStream(WindowSystem):
    """Dual-stream network: whole-clip windows, three heads."""

    name = "dualstream"
    heads = HEADS
    final_head = "fused"
    steps: ClassVar[dict[str, StepPlan]] = {
        "audio": StepPlan("train_audio", "audio branch + head", ("audio",), (), ("prepare", "features_audio")),
        "visual": StepPlan("train_visual", "image branch + head", ("visual",), (), ("prepare", "features_visual")),
        "fusion": StepPlan(
            "train_fusion",
            "the dual-stream network end to end",
            ("audio", "visual"),
            (),
            ("prepare", "features_audio", "features_visual"),
        ),
        "finetune": StepPlan(
            "finetune",
            "the whole network at a small learning rate; three-head model",
            ("audio", "visual"),
            ("train_audio", "train_visual", "train_fusion"),
            ("prepare", "features_audio", "features_visual", "train_audio", "train_visual", "train_fusion"),
        ),
    }

    def modalities(self, step: str, params: Params) -> tuple[str, ...]:
        base = self.plan(step).modalities
        if params.model.dualstream.finetune_backbone:
            return tuple("frames" if m == "visual" else m for m in base)
        return base

    def train_seconds(self, step: str, arrays: ClipArrays) -> int:
        return arrays.n_seconds

    def _backbone(self, params: Params, root_dir: Path) -> Any:
        from avsc.systems.backbones import stage_backbone, with_preprocessing

        cfg = params.visual_features
        backbone = stage_backbone(params, root_dir, trainable=True)
        return with_preprocessing(backbone, kind=cfg.backbone, image_size=cfg.image_size)

    def build(self, step: str, params: Params, root_dir: Path) -> Any:
        from avsc.models import dualstream
        from avsc.models.backbone import embedding_dim
        from avsc.models.dualstream_training import set_trainable

        cfg = params.model.dualstream
        vcfg = params.visual_features
        frames = cfg.finetune_backbone
        if step == "audio":
            return dualstream.build_audio_model(cfg, d_audio=audio_dim(params))
        if step == "visual":
            if frames:
                return dualstream.build_visual_model_on_frames(
                    cfg, backbone=self._backbone(params, root_dir), image_size=vcfg.image_size
                )
            return dualstream.build_visual_model(cfg, d_visual=embedding_dim(vcfg.backbone))
        if step == "fusion":
            if frames:
                return dualstream.build_fused_model_on_frames(
                    cfg,
                    backbone=self._backbone(params, root_dir),
                    d_audio=audio_dim(params),
                    image_size=vcfg.image_size,
                )
            return dualstream.build_fused_model(cfg, d_audio=audio_dim(params), d_visual=embedding_dim(vcfg.backbone))
        model = load_keras_model(model_path(params, root_dir, "train_fusion"))
        return set_trainable(model, step="finetune")

    def final_model(self, model: Any, params: Params, root_dir: Path) -> Any:
        from avsc.models.dualstream import build_multihead_model

        audio = load_keras_model(model_path(params, root_dir, "train_audio"))
        visual = load_keras_model(model_path(params, root_dir, "train_visual"))
        return build_multihead_model(audio, visual, model)

    def published(self) -> tuple[str, ...]:
        return ("dualstream",)
