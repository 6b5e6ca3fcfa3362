"""The SE-CRNN (Naranjo-Alcazar et al. 2021) as a system: its four training steps are the stages.

=============  ==========================================================================
stage          SE-CRNN step (sec. 2.5)
=============  ==========================================================================
train_audio    step 1: SE-ResNet audio module from scratch, on random 1-s crops
train_visual   step 2: visual BiGRU + dense on the cached VGG16 embeddings (5 fps)
train_fusion   step 3: early (BiGRU on 640 features per step) + late fusion, modules frozen
finetune       fine-tuning of every weight (except the frozen VGG16) at a small learning rate
=============  ==========================================================================

Heads: ``audio``, ``visual``, ``early``, ``late`` (final). Evaluation: every 1-s segment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from avsc.config.settings import Params
from avsc.models.saving import load_keras_model, model_path
from avsc.systems.base import StepPlan
from avsc.systems.windows import WindowSystem

HEADS = ("audio", "visual", "early", "late")


class Secrnn(WindowSystem):
    """SE-CRNN: 1-s crops, four heads."""

    name = "secrnn"
    heads = HEADS
    final_head = "late"
    steps: ClassVar[dict[str, StepPlan]] = {
        "audio": StepPlan(
            "train_audio", "step 1: SE-ResNet audio module", ("audio",), (), ("prepare", "features_audio")
        ),
        "visual": StepPlan(
            "train_visual",
            "step 2: visual BiGRU head on cached embeddings",
            ("visual",),
            (),
            ("prepare", "features_visual"),
        ),
        "fusion": StepPlan(
            "train_fusion",
            "step 3: early + late fusion, modules frozen",
            ("audio", "visual"),
            ("train_audio", "train_visual"),
            ("prepare", "features_audio", "features_visual", "train_audio", "train_visual"),
        ),
        "finetune": StepPlan(
            "finetune",
            "fine-tuning of all weights at a small learning rate",
            ("audio", "visual"),
            ("train_fusion",),
            ("prepare", "features_audio", "features_visual", "train_fusion"),
        ),
    }

    def build(self, step: str, params: Params, root_dir: Path) -> Any:
        from avsc.models import secrnn

        m = params.model.secrnn
        if step == "audio":
            cfg = params.features.audio.secrnn
            return secrnn.build_audio_module(m.audio, n_bands=cfg.n_bands, n_frames=round(1 / cfg.hop_s))
        if step == "visual":
            return secrnn.build_visual_module(m.visual, steps=params.features.visual.secrnn.fps)
        if step == "fusion":
            audio = load_keras_model(model_path(params, root_dir, "train_audio"))
            visual = load_keras_model(model_path(params, root_dir, "train_visual"))
            model = secrnn.build_fused_model(audio, visual, m.fusion)
            return secrnn.set_trainable(model, step="fusion")
        model = load_keras_model(model_path(params, root_dir, "train_fusion"))
        return secrnn.set_trainable(model, step="finetune")

    def targets(self, step: str) -> tuple[str, ...] | None:
        return HEADS if step in ("fusion", "finetune") else None

    def monitor(self, step: str) -> str:
        return "val_late_accuracy" if step in ("fusion", "finetune") else "val_accuracy"

    def primary_output(self, step: str) -> str | None:
        return "late" if step in ("fusion", "finetune") else None

    def published(self) -> tuple[str, ...]:
        return ("secrnn",)
