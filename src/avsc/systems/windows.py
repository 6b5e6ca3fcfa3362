"""Systems that see time windows of whole seconds: the SE-CRNN (1-s crops) and the dual-stream
network (whole clips). Training draws windows, evaluation cuts every clip into 1-s segments.

A window starts on the visual frame grid; the audio window starts at the same time
(``audio_fps / visual_fps`` audio frames per visual frame, an integer for these systems), so audio
and video stay aligned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from avsc.config.settings import TrainSection
from avsc.errors import ConfigError
from avsc.systems.base import SegmentScores, System, predict_outputs
from avsc.training.arrays import ClipArrays
from avsc.training.segments import gather_time, mixup, one_hot


def audio_per_visual(arrays: ClipArrays) -> int:
    """Audio frames per visual frame (10 for both window systems)."""
    ratio = arrays.audio_fps / arrays.visual_fps
    if abs(ratio - round(ratio)) > 1e-6:
        raise ConfigError(
            f"audio at {arrays.audio_fps:g} frames/s and video at {arrays.visual_fps} fps do not align on a common grid"
        )
    return round(ratio)


def window_inputs(
    arrays: ClipArrays, clip_index: np.ndarray, start: np.ndarray, *, seconds: int, inputs: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Windows of ``seconds`` seconds starting at visual frame ``start`` of clip ``clip_index``.

    ``inputs`` names the model inputs: ``audio`` (features), ``visual`` (embeddings, or raw frames
    when the arrays hold frames and no embeddings).
    """
    out: dict[str, np.ndarray] = {}
    if "audio" in inputs:
        if arrays.audio is None:
            raise ValueError("audio features were not loaded")
        ratio = audio_per_visual(arrays) if arrays.visual is not None or arrays.frames is not None else 0
        per_second = round(arrays.audio_fps)
        a_start = start * ratio if ratio else start * per_second // max(arrays.visual_fps, 1)
        out["audio"] = gather_time(
            arrays.audio, clip_index, a_start, length=seconds * per_second, time_axis=arrays.audio_time_axis
        )
    if "visual" in inputs:
        source = arrays.visual if arrays.visual is not None else arrays.frames
        if source is None:
            raise ValueError("visual features were not loaded")
        out["visual"] = gather_time(source, clip_index, start, length=seconds * arrays.visual_fps, time_axis=0)
    return out


def as_model_input(x: dict[str, np.ndarray]) -> Any:
    """One array for a single-input model, the dict for a model with inputs ``{"audio", "visual"}``."""
    return next(iter(x.values())) if len(x) == 1 else x


class WindowSystem(System):
    """Shared training and scoring for window systems; subclasses say which inputs and window length."""

    def step_inputs(self, step: str) -> tuple[str, ...]:
        """Model inputs of a step: ``("audio",)``, ``("visual",)`` or ``("audio", "visual")``."""
        return {"audio": ("audio",), "visual": ("visual",)}.get(step, ("audio", "visual"))

    def train_seconds(self, step: str, arrays: ClipArrays) -> int:
        """Length of a training window in seconds."""
        return 1

    def _targets(self, step: str, y: np.ndarray) -> Any:
        names = self.targets(step)
        return y if names is None else {k: y for k in names}

    def _starts(self, step: str, arrays: ClipArrays, *, crops: int, rng: np.random.Generator) -> tuple:
        seconds = self.train_seconds(step, arrays)
        last = (arrays.n_seconds - seconds) * arrays.visual_fps
        clip_index = np.repeat(np.arange(len(arrays)), crops)
        start = rng.integers(0, last + 1, size=clip_index.size)
        return clip_index, start, seconds

    def epoch_batches(
        self, step: str, arrays: ClipArrays, *, cfg: TrainSection, rng: np.random.Generator
    ) -> Iterator[tuple[Any, Any]]:
        crops = cfg.crops_per_clip if self.train_seconds(step, arrays) < arrays.n_seconds else 1
        clip_index, start, seconds = self._starts(step, arrays, crops=crops, rng=rng)
        order = rng.permutation(clip_index.size)
        clip_index, start = clip_index[order], start[order]
        names = self.step_inputs(step)
        for i in range(0, clip_index.size, cfg.batch_size):
            ci, st = clip_index[i : i + cfg.batch_size], start[i : i + cfg.batch_size]
            x = window_inputs(arrays, ci, st, seconds=seconds, inputs=names)
            mixed, y = mixup(list(x.values()), one_hot(arrays.y[ci]), alpha=cfg.mixup_alpha, rng=rng)
            yield as_model_input(dict(zip(x, mixed, strict=True))), self._targets(step, y)

    def n_batches(self, step: str, arrays: ClipArrays, *, cfg: TrainSection) -> int:
        crops = cfg.crops_per_clip if self.train_seconds(step, arrays) < arrays.n_seconds else 1
        return int(np.ceil(len(arrays) * crops / cfg.batch_size))

    def segments(self, arrays: ClipArrays, names: tuple[str, ...]) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """Every 1-s segment of every clip: ``(inputs, y, clip_index, segment)``."""
        n = arrays.n_seconds
        clip_index = np.repeat(np.arange(len(arrays)), n)
        segment = np.tile(np.arange(n), len(arrays))
        x = window_inputs(arrays, clip_index, segment * arrays.visual_fps, seconds=1, inputs=names)
        return as_model_input(x), arrays.y[clip_index], clip_index, segment

    def validation_data(self, step: str, arrays: ClipArrays) -> tuple[Any, Any]:
        x, y, _, _ = self.segments(arrays, self.step_inputs(step))
        return x, self._targets(step, one_hot(y))

    def segment_scores(
        self, model: Any, arrays: ClipArrays, *, batch_size: int, step: str | None = None
    ) -> SegmentScores:
        names = self.step_inputs(step) if step else ("audio", "visual")
        x, y, clip_index, segment = self.segments(arrays, names)
        return SegmentScores(predict_outputs(model, x, batch_size=batch_size), y, clip_index, segment)
