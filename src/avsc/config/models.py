"""Settings of the model systems: ``model.system`` selects one, ``model.<system>`` sizes it.

Defaults are the seed papers' numbers (and, where a paper points to its code, the authors' code);
the docstrings of :mod:`avsc.models.secrnn`, :mod:`avsc.models.dualstream` and
:mod:`avsc.models.joint` say where each number comes from.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from avsc.config.base import Strict, SystemName


class SecrnnAudio(Strict):
    """SE-ResNet audio module."""

    filters: tuple[int, ...] = (32, 64, 128)
    se_ratio: int = 2
    dropout: float = 0.3


class SecrnnVisual(Strict):
    """Visual BiGRU head; ``gru_units`` per direction."""

    gru_units: int = 32


class SecrnnFusion(Strict):
    """Early-fusion BiGRU; ``gru_units`` per direction."""

    gru_units: int = 64


class SecrnnModel(Strict):
    """SE-CRNN (Naranjo-Alcazar et al. 2021)."""

    audio: SecrnnAudio = SecrnnAudio()
    visual: SecrnnVisual = SecrnnVisual()
    fusion: SecrnnFusion = SecrnnFusion()


class DualStreamModel(Strict):
    """Dual-stream network sizes (Hou et al. 2021); see :mod:`avsc.models.dualstream` for the sources.

    ``finetune_backbone``: the paper fine-tunes ResNet50; with ``true`` the image branch trains on
    the cached raw frames through a trainable backbone (needs ``features.visual.dualstream.keep_frames``),
    with ``false`` (the quick default) it trains on cached frozen embeddings.
    """

    hops_per_frame: PositiveInt = 10
    audio_dim: PositiveInt = 512
    audio_heads: PositiveInt = 8
    audio_key_dim: PositiveInt = 64
    audio_ff_dim: PositiveInt = 512
    conv_filters: tuple[PositiveInt, ...] = (256, 256, 256)
    conv_kernels: tuple[PositiveInt, ...] = (3, 3, 3, 5)
    conv_strides: tuple[PositiveInt, ...] = (1, 2, 1, 5)
    embed_dim: PositiveInt = 256
    fusion_heads: PositiveInt = 16
    fusion_key_dim: PositiveInt = 32
    fusion_ff_dim: PositiveInt = 512
    fc_units: PositiveInt = 256
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    attention_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    finetune_backbone: bool = False

    @model_validator(mode="after")
    def _conv_stack_fits(self) -> DualStreamModel:
        n = len(self.conv_kernels)
        if len(self.conv_strides) != n or len(self.conv_filters) != n - 1:
            raise ValueError(
                "conv_kernels and conv_strides need one entry per conv layer and conv_filters one fewer "
                f"(the last layer has embed_dim filters): got {len(self.conv_kernels)}, {len(self.conv_strides)}, "
                f"{len(self.conv_filters)}"
            )
        if math.prod(self.conv_strides) != self.hops_per_frame:
            raise ValueError(
                f"conv_strides {self.conv_strides} multiply to {math.prod(self.conv_strides)}, "
                f"not hops_per_frame={self.hops_per_frame}"
            )
        return self


class ImageAugmentation(Strict):
    """Image augmentation of the joint strategy (see :mod:`avsc.models.augment`)."""

    translate: float = Field(default=0.1, ge=0.0, lt=0.5)
    zoom: float = Field(default=0.3, ge=0.0, lt=1.0)
    flip: bool = True
    brightness: float = Field(default=0.2, ge=0.0, le=1.0)
    contrast: float = Field(default=0.4, ge=0.0, lt=1.0)
    saturation: float = Field(default=0.4, ge=0.0, lt=1.0)
    hue: float = Field(default=0.1, ge=0.0, le=0.5)
    seed: int | None = None


class JointModel(Strict):
    """Joint-optimization system (Chen et al. 2022): res-DCNN acoustic encoder and scene classifier
    (Table 1), and the training strategy of Tables 3-4.

    ``strategy: pipeline`` trains the scene classifier on frozen embeddings (the acoustic encoder of
    ``train_audio``, the cached visual embeddings); ``strategy: joint`` trains the acoustic encoder
    and the classifier together on raw augmented images through the frozen visual encoder.
    """

    strategy: Literal["pipeline", "joint"] = "pipeline"
    conv_channels: tuple[int, ...] = (4, 8, 16, 32)
    conv_kernel: int = Field(default=3, ge=1)
    pool_size: int = Field(default=3, ge=2)
    encoder_units: tuple[int, int] = (2048, 1024)
    classifier_units: int = Field(default=1024, ge=1)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    bn_momentum: float = Field(default=0.9, gt=0.0, lt=1.0)
    bn_epsilon: float = Field(default=1e-5, gt=0.0)
    augmentation: ImageAugmentation = ImageAugmentation()


class ModelSection(Strict):
    """``model``: the active system and every system's architecture."""

    system: SystemName = "secrnn"
    secrnn: SecrnnModel = SecrnnModel()
    dualstream: DualStreamModel = DualStreamModel()
    joint: JointModel = JointModel()
