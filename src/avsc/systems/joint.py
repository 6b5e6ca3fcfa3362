"""The joint-optimization transfer-learning system (Chen et al. 2022) as a system.

Frame level: an example is one long-term acoustic frame (512 ms, every 171 ms) with the 1-fps
video frame of the second its centre lies in. Mapped onto the shared stages:

=============  ==========================================================================
stage          joint optimization
=============  ==========================================================================
train_audio    the audio-only system: acoustic encoder (res-DCNN) + scene classifier
train_visual   the video-only system: scene classifier on the frozen visual encoder's embeddings
train_fusion   ``model.joint.strategy: pipeline``: the classifier on [frozen AE embedding ++
               cached visual embedding] (Table 3, "Pipeline"); ``joint``: AE (from
               train_audio) and classifier trained together on raw augmented images through the
               frozen visual encoder (Table 3, "Joint")
finetune       the same trainable set at the fine-tuning learning rate; saves the three-head model
=============  ==========================================================================

Test time: the average of the frame probabilities within each 1-s segment (sec. 3.2). Heads:
``audio``, ``visual``, ``fused`` (final).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from avsc.config.settings import Params, TrainSection
from avsc.models.saving import load_keras_model, model_path
from avsc.systems.base import SegmentScores, StepPlan, System, predict_outputs
from avsc.training.arrays import ClipArrays
from avsc.training.segments import mixup, one_hot

HEADS = ("audio", "visual", "fused")


def frame_second(arrays: ClipArrays) -> np.ndarray:
    """The 1-s segment (and 1-fps video frame) of every acoustic frame of a clip."""
    n_frames = arrays.audio.shape[1] if arrays.audio is not None else 0
    centres = np.arange(n_frames) / arrays.audio_fps
    return np.minimum(np.floor(centres + 1e-9).astype(np.int64), arrays.n_seconds - 1)


def examples(arrays: ClipArrays, step: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(clip_index, audio frame, second)`` of every example of a step (visual: one per second)."""
    n = len(arrays)
    if step == "visual":
        clip_index = np.repeat(np.arange(n), arrays.n_seconds)
        second = np.tile(np.arange(arrays.n_seconds), n)
        return clip_index, np.zeros_like(second), second
    seconds = frame_second(arrays)
    clip_index = np.repeat(np.arange(n), seconds.size)
    frame = np.tile(np.arange(seconds.size), n)
    return clip_index, frame, seconds[frame]


def frame_inputs(
    arrays: ClipArrays, clip_index: np.ndarray, frame: np.ndarray, second: np.ndarray, *, inputs: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Model inputs of examples: ``audio`` ``(n, 2, bins)``, ``visual`` an embedding or a raw frame."""
    out = {}
    if "audio" in inputs:
        assert arrays.audio is not None, "the audio step reads audio features"
        out["audio"] = arrays.audio[clip_index, frame]
    if "visual" in inputs:
        source = arrays.visual if arrays.visual is not None else arrays.frames
        assert source is not None, "a visual step reads embeddings or frames"
        out["visual"] = source[clip_index, second]
    return out


class Joint(System):
    """Joint-optimization system: frame-level examples, three heads, segment averaging."""

    name = "joint"
    heads = HEADS
    final_head = "fused"
    steps: ClassVar[dict[str, StepPlan]] = {
        "audio": StepPlan("train_audio", "audio-only system (AE + SC)", ("audio",), (), ("prepare", "features_audio")),
        "visual": StepPlan(
            "train_visual",
            "video-only system (SC on frozen VE embeddings)",
            ("visual",),
            (),
            ("prepare", "features_visual"),
        ),
        "fusion": StepPlan(
            "train_fusion",
            "pipeline or joint strategy (model.joint.strategy)",
            ("audio", "visual"),
            ("train_audio",),
            ("prepare", "features_audio", "features_visual", "train_audio"),
        ),
        "finetune": StepPlan(
            "finetune",
            "the strategy's trainable set at a small learning rate; three-head model",
            ("audio", "visual"),
            ("train_audio", "train_visual", "train_fusion"),
            ("prepare", "features_audio", "features_visual", "train_audio", "train_visual", "train_fusion"),
        ),
    }

    def modalities(self, step: str, params: Params) -> tuple[str, ...]:
        base = self.plan(step).modalities
        if step in ("fusion", "finetune") and params.model.joint.strategy == "joint":
            return tuple("frames" if m == "visual" else m for m in base)
        return base

    @staticmethod
    def step_inputs(step: str) -> tuple[str, ...]:
        return {"audio": ("audio",), "visual": ("visual",)}.get(step, ("audio", "visual"))

    def build(self, step: str, params: Params, root_dir: Path) -> Any:
        from avsc.models import joint
        from avsc.models.backbone import embedding_dim

        cfg = params.model.joint
        bins = params.features.audio.joint.n_bands
        vcfg = params.visual_features
        if step == "audio":
            return joint.build_audio_only(cfg, n_bins=bins)
        if step == "visual":
            return joint.build_visual_only(cfg, visual_dim=embedding_dim(vcfg.backbone))
        if step == "fusion":
            if cfg.strategy == "joint":
                from avsc.systems.backbones import stage_backbone

                model = joint.build_joint_fused(
                    cfg,
                    n_bins=bins,
                    backbone=stage_backbone(params, root_dir, trainable=False),
                    kind=vcfg.backbone,
                    augmentation=cfg.augmentation,
                    strategy="joint",
                )
            else:
                model = joint.build_pipeline_fused(cfg, n_bins=bins, visual_dim=embedding_dim(vcfg.backbone))
            joint.copy_encoder(load_keras_model(model_path(params, root_dir, "train_audio")), model)
            return model
        model = load_keras_model(model_path(params, root_dir, "train_fusion"))
        return joint.set_strategy(model, cfg.strategy, dropout=cfg.dropout)

    def final_model(self, model: Any, params: Params, root_dir: Path) -> Any:
        from avsc.models.joint import build_multihead

        return build_multihead(
            audio=load_keras_model(model_path(params, root_dir, "train_audio")),
            visual=load_keras_model(model_path(params, root_dir, "train_visual")),
            fused=model,
        )

    def epoch_batches(
        self, step: str, arrays: ClipArrays, *, cfg: TrainSection, rng: np.random.Generator
    ) -> Iterator[tuple[Any, Any]]:
        clip_index, frame, second = examples(arrays, step)
        order = rng.permutation(clip_index.size)
        names = self.step_inputs(step)
        for i in range(0, order.size, cfg.batch_size):
            pick = order[i : i + cfg.batch_size]
            x = frame_inputs(arrays, clip_index[pick], frame[pick], second[pick], inputs=names)
            mixed, y = mixup(list(x.values()), one_hot(arrays.y[clip_index[pick]]), alpha=cfg.mixup_alpha, rng=rng)
            batch = dict(zip(x, mixed, strict=True))
            yield (next(iter(batch.values())) if len(batch) == 1 else batch), y

    def n_batches(self, step: str, arrays: ClipArrays, *, cfg: TrainSection) -> int:
        return int(np.ceil(examples(arrays, step)[0].size / cfg.batch_size))

    def validation_data(self, step: str, arrays: ClipArrays) -> tuple[Any, Any]:
        clip_index, frame, second = examples(arrays, step)
        x = frame_inputs(arrays, clip_index, frame, second, inputs=self.step_inputs(step))
        return (next(iter(x.values())) if len(x) == 1 else x), one_hot(arrays.y[clip_index])

    def segment_scores(
        self, model: Any, arrays: ClipArrays, *, batch_size: int, step: str | None = None
    ) -> SegmentScores:
        from avsc.models.joint import segment_average

        names = self.step_inputs(step) if step else ("audio", "visual")
        per = "visual" if names == ("visual",) else "audio"
        clip_index, frame, second = examples(arrays, per)
        x = frame_inputs(arrays, clip_index, frame, second, inputs=names)
        outputs = predict_outputs(model, next(iter(x.values())) if len(x) == 1 else x, batch_size=batch_size)
        n, s = len(arrays), arrays.n_seconds
        probas = {}
        for head, proba in outputs.items():
            probas[head] = np.concatenate(
                [segment_average(proba[clip_index == c], second[clip_index == c], s) for c in range(n)]
            )
        return SegmentScores(probas, np.repeat(arrays.y, s), np.repeat(np.arange(n), s), np.tile(np.arange(s), n))

    def published(self) -> tuple[str, ...]:
        return ("joint",)
