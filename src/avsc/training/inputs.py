"""Training inputs: the cached features of a split, and a ``tf.data`` pipeline of 1-s segments.

Features of one split are gathered into contiguous arrays once (normalised audio, visual
embeddings); each epoch draws fresh random crops and mixup in NumPy, batch by batch, and
``tf.data`` prefetches the batches so the model never waits for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsc.config.settings import Params
from avsc.data.manifest import read_manifest
from avsc.data.tau import CLASS_INDEX
from avsc.errors import DataError
from avsc.features.normalize import apply_stats, load_stats
from avsc.features.stage import AUDIO_DIR, VISUAL_DIR
from avsc.features.store import FeatureStore
from avsc.training.segments import fixed_segments, gather_audio, gather_visual, mixup, one_hot, random_crop_starts

log = logging.getLogger(__name__)
AUDIO_FPS = 50


@dataclass
class SplitArrays:
    """All clips of one split: ``audio`` (n, bands, frames, 3), ``visual`` (n, frames, 512), ``y`` (n,)."""

    clips: list[str]
    filenames: list[str]
    y: np.ndarray
    audio: np.ndarray | None
    visual: np.ndarray | None
    visual_fps: int = 5

    @property
    def n_seconds(self) -> int:
        if self.visual is not None:
            return self.visual.shape[1] // self.visual_fps
        return self.audio.shape[2] // AUDIO_FPS

    @property
    def n_visual_frames(self) -> int:
        return self.n_seconds * self.visual_fps


def load_split(params: Params, root_dir: Path, split: str, *, modalities: tuple[str, ...]) -> SplitArrays:
    """Load one split's cached features (only clips present in every requested modality)."""
    manifest = read_manifest(root_dir / params.data.manifest)
    feats = root_dir / params.base.features_dir
    stores = {m: FeatureStore(feats / (AUDIO_DIR if m == "audio" else VISUAL_DIR)) for m in modalities}
    available = None
    for m, store in stores.items():
        clips = set(store.manifest()["clips"])
        available = clips if available is None else available & clips
    rows = [c for c in manifest["clips"] if c["split"] == split and c["clip"] in available]
    if not rows:
        raise DataError(f"no {split} clips with features in {feats}; run `dvc repro` up to the feature stages")
    audio = visual = None
    if "audio" in stores:
        mean, std = load_stats(stores["audio"].folder / "stats.npz")
        audio = np.stack([apply_stats(stores["audio"].load(r["clip"]), mean=mean, std=std) for r in rows])
    if "visual" in stores:
        vmean, vstd = load_stats(stores["visual"].folder / "stats.npz")
        visual = ((np.stack([stores["visual"].load(r["clip"]) for r in rows]) - vmean) / vstd).astype(np.float32)
    n_sec = min(x for x in ((audio.shape[2] // AUDIO_FPS) if audio is not None else 10**9,
                            (visual.shape[1] // params.features.visual.fps) if visual is not None else 10**9))
    if audio is not None:
        audio = audio[:, :, : n_sec * AUDIO_FPS]
    if visual is not None:
        visual = visual[:, : n_sec * params.features.visual.fps]
    y = np.array([CLASS_INDEX[r["scene_label"]] for r in rows], dtype=np.int64)
    return SplitArrays([r["clip"] for r in rows], [r["filename_audio"] for r in rows], y, audio, visual,
                       params.features.visual.fps)


def _inputs(arrays: SplitArrays, clip_index: np.ndarray, start: np.ndarray, modalities: tuple[str, ...]) -> list:
    ratio = AUDIO_FPS // arrays.visual_fps
    out = []
    if "audio" in modalities:
        out.append(gather_audio(arrays.audio, clip_index, start, ratio=ratio, frames=AUDIO_FPS))
    if "visual" in modalities:
        out.append(gather_visual(arrays.visual, clip_index, start, steps=arrays.visual_fps))
    return out


def as_model_inputs(inputs: list, modalities: tuple[str, ...]):
    """A single array for one modality, a dict ``{"audio", "visual"}`` for the fused model."""
    if len(modalities) == 1:
        return inputs[0]
    return dict(zip(modalities, inputs))


def epoch_batches(arrays: SplitArrays, *, modalities: tuple[str, ...], batch_size: int, crops_per_clip: int,
                  mixup_alpha: float, rng: np.random.Generator, n_outputs: int = 1):
    """One epoch of shuffled random 1-s crops with mixup, as (inputs, one-hot labels) batches."""
    clip_index, start = random_crop_starts(n_clips=len(arrays.clips), n_visual_frames=arrays.n_visual_frames,
                                           visual_fps=arrays.visual_fps, crops_per_clip=crops_per_clip, rng=rng)
    order = rng.permutation(clip_index.size)
    clip_index, start = clip_index[order], start[order]
    for i in range(0, clip_index.size, batch_size):
        ci, st = clip_index[i:i + batch_size], start[i:i + batch_size]
        x = _inputs(arrays, ci, st, modalities)
        y = one_hot(arrays.y[ci])
        x, y = mixup(x, y, alpha=mixup_alpha, rng=rng)
        yield as_model_inputs(x, modalities), (y if n_outputs == 1 else {k: y for k in OUTPUT_KEYS})


OUTPUT_KEYS = ("audio", "visual", "early", "late")


def segment_set(arrays: SplitArrays, *, modalities: tuple[str, ...]):
    """Every 1-s segment of every clip (the DCASE evaluation segmentation).

    Returns ``(inputs, y, clip_index, segment)``.
    """
    clip_index, start, segment = fixed_segments(n_clips=len(arrays.clips), n_seconds=arrays.n_seconds,
                                                visual_fps=arrays.visual_fps)
    x = _inputs(arrays, clip_index, start, modalities)
    return as_model_inputs(x, modalities), arrays.y[clip_index], clip_index, segment


def training_dataset(arrays: SplitArrays, *, modalities: tuple[str, ...], batch_size: int, crops_per_clip: int,
                     mixup_alpha: float, seed: int, n_outputs: int = 1, initial_epoch: int = 0):
    """A repeating ``tf.data.Dataset`` of training batches; fresh crops and mixup every epoch.

    Epoch ``e`` draws from ``default_rng([seed, e])``, so a run resumed at ``initial_epoch`` sees
    exactly the batches the uninterrupted run would have seen.
    """
    import tensorflow as tf

    def generate():
        epoch = initial_epoch
        while True:
            rng = np.random.default_rng([seed, epoch])
            yield from epoch_batches(arrays, modalities=modalities, batch_size=batch_size,
                                     crops_per_clip=crops_per_clip, mixup_alpha=mixup_alpha, rng=rng,
                                     n_outputs=n_outputs)
            epoch += 1

    x0, y0 = next(epoch_batches(arrays, modalities=modalities, batch_size=2, crops_per_clip=1, mixup_alpha=0.0,
                                rng=np.random.default_rng(0), n_outputs=n_outputs))

    def spec(v):
        if isinstance(v, dict):
            return {k: spec(a) for k, a in v.items()}
        return tf.TensorSpec(shape=(None,) + v.shape[1:], dtype=tf.float32)

    ds = tf.data.Dataset.from_generator(generate, output_signature=(spec(x0), spec(y0)))
    steps = int(np.ceil(len(arrays.clips) * crops_per_clip / batch_size))
    return ds.prefetch(tf.data.AUTOTUNE), steps
