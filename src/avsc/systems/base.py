"""What a model system is to the pipeline: its heads, how its training steps map onto the four
training stages, how it builds each step's model, draws training batches and scores 1-s segments.

Every system trains through the same stages (``train_audio``, ``train_visual``, ``train_fusion``,
``finetune``), evaluates into the same reports and registers the same kind of model: a Keras model
with inputs ``{"audio", "visual"}`` and one output per head. Only this interface differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from avsc.config.settings import Params, TrainSection
from avsc.training.arrays import IN_MEMORY_LIMIT, ClipArrays, clip_chunks, is_streamed

#: Step key -> DVC stage name (the tuner's ``--target`` uses the step keys).
STAGES = {"audio": "train_audio", "visual": "train_visual", "fusion": "train_fusion", "finetune": "finetune"}

#: Clips read into memory at a time when a split on disk is scored or validated (the joint system
#: repeats a clip's frame for each of its ~59 acoustic frames: 16 clips at 288 px are ~0.25 GB).
CHUNK_CLIPS = 16


@dataclass(frozen=True)
class StepPlan:
    """One training step of a system, mapped onto a stage."""

    stage: str
    does: str
    modalities: tuple[str, ...]
    starts_from: tuple[str, ...] = ()
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentScores:
    """Probabilities of every head for every 1-s segment: ``probas[head]`` is ``(n_segments, 10)``."""

    probas: dict[str, np.ndarray]
    y: np.ndarray
    clip_index: np.ndarray
    segment: np.ndarray


class System(ABC):
    """A model system (see the module docstring)."""

    name: str
    heads: tuple[str, ...]
    final_head: str
    steps: ClassVar[dict[str, StepPlan]]

    def plan(self, step: str) -> StepPlan:
        """The plan of step ``audio``, ``visual``, ``fusion`` or ``finetune``."""
        return self.steps[step]

    def modalities(self, step: str, params: Params) -> tuple[str, ...]:
        """The feature arrays a step reads (``audio``, ``visual``, ``frames``)."""
        return self.plan(step).modalities

    @abstractmethod
    def build(self, step: str, params: Params, root_dir: Path) -> Any:
        """A fresh model for ``step`` (later steps start from the earlier steps' saved models)."""

    @abstractmethod
    def epoch_batches(
        self, step: str, arrays: ClipArrays, *, cfg: TrainSection, rng: np.random.Generator
    ) -> Iterator[tuple[Any, Any]]:
        """One epoch of shuffled, mixed-up training batches ``(inputs, one-hot targets)``."""

    @abstractmethod
    def n_batches(self, step: str, arrays: ClipArrays, *, cfg: TrainSection) -> int:
        """Batches per epoch."""

    @abstractmethod
    def validation_data(self, step: str, arrays: ClipArrays) -> tuple[Any, Any]:
        """Keras ``validation_data`` for a step: its examples of the validation split."""

    def targets(self, step: str) -> tuple[str, ...] | None:
        """The named outputs a step trains (each on the labels), or None for a single-output model."""
        return None

    def monitor(self, step: str) -> str:
        """The Keras log key the training loop keeps the best epoch of (higher is better)."""
        return "val_accuracy"

    def primary_output(self, step: str) -> str | None:
        """The output of a multi-output step model whose predictions score the step (tuning)."""
        return None

    def final_model(self, model: Any, params: Params, root_dir: Path) -> Any:
        """The model the ``finetune`` stage saves and ``evaluate``/``register`` use: every head as an output."""
        return model

    @abstractmethod
    def segment_scores(
        self, model: Any, arrays: ClipArrays, *, batch_size: int, step: str | None = None
    ) -> SegmentScores:
        """Every head's probabilities for every 1-s segment of every clip.

        ``step`` names the step whose model ``model`` is (tuning scores step models; its outputs are
        named as the model names them, ``out`` for a single output); without it ``model`` is the
        final model with inputs ``{"audio", "visual"}``.
        """

    def published(self) -> tuple[str, ...]:
        """Keys of the published rows of :mod:`avsc.evaluation.comparison` this system compares with."""
        return ()


def predict_outputs(model: Any, inputs: Any, *, batch_size: int) -> dict[str, np.ndarray]:
    """``model.predict`` as ``{output name: (n, classes) float64}`` (``out`` for a single output)."""
    out = model.predict(inputs, batch_size=batch_size, verbose=0)
    if isinstance(out, dict):
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    if isinstance(out, list | tuple):
        names = [str(n) for n in getattr(model, "output_names", [])] or [f"out{i}" for i in range(len(out))]
        return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, out, strict=True)}
    return {"out": np.asarray(out, dtype=np.float64)}


def _nbytes(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value)
    return int(np.asarray(value).nbytes)


def read_in_chunks(system: System, step: str, arrays: ClipArrays) -> bool:
    """Whether ``step``'s examples of ``arrays`` are built :data:`CHUNK_CLIPS` clips at a time: for a
    split on disk, and for one in memory whose examples would exceed :data:`IN_MEMORY_LIMIT` bytes
    (the joint system repeats a clip's frame for each of its ~59 acoustic frames)."""
    if is_streamed(arrays):
        return True
    if not len(arrays):
        return False
    one = next(clip_chunks(arrays, size=1))[1]
    return _nbytes(system.validation_data(step, one)) * len(arrays) > IN_MEMORY_LIMIT


def bounded_segment_scores(
    system: System, model: Any, arrays: ClipArrays, *, batch_size: int, step: str | None = None
) -> SegmentScores:
    """``system.segment_scores``, chunk by chunk of :data:`CHUNK_CLIPS` clips when ``arrays`` are on disk
    or their examples would not fit the in-memory limit (:func:`read_in_chunks`)."""
    if not read_in_chunks(system, step or "finetune", arrays):
        return system.segment_scores(model, arrays, batch_size=batch_size, step=step)
    parts = [
        (start, system.segment_scores(model, chunk, batch_size=batch_size, step=step))
        for start, chunk in clip_chunks(arrays, size=CHUNK_CLIPS)
    ]
    return SegmentScores(
        probas={h: np.concatenate([p.probas[h] for _, p in parts]) for h in parts[0][1].probas},
        y=np.concatenate([p.y for _, p in parts]),
        clip_index=np.concatenate([p.clip_index + start for start, p in parts]),
        segment=np.concatenate([p.segment for _, p in parts]),
    )
