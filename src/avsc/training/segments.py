"""Pure functions for 1-s segments: random crops, fixed segmentation and mixup.

Time grid: audio features have ``audio_fps`` frames per second (50), visual embeddings
``visual_fps`` (5). A crop starts on the visual grid, so audio and video stay aligned: start
``k`` covers visual frames ``[k, k + visual_fps)`` and audio frames
``[k * r, k * r + audio_fps)`` with ``r = audio_fps // visual_fps``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def random_crop_starts(
    *, n_clips: int, n_visual_frames: int, visual_fps: int = 5, crops_per_clip: int = 1, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random 1-s crops, ``crops_per_clip`` per clip.

    Returns
    -------
    clip_index : np.ndarray, shape (n_clips * crops_per_clip,)
    start : np.ndarray, shape (n_clips * crops_per_clip,)
        Start on the visual frame grid, in ``[0, n_visual_frames - visual_fps]``.
    """
    clip_index = np.repeat(np.arange(n_clips), crops_per_clip)
    start = rng.integers(0, n_visual_frames - visual_fps + 1, size=clip_index.size)
    return clip_index, start


def fixed_segments(*, n_clips: int, n_seconds: int, visual_fps: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DCASE segmentation: every whole second of every clip.

    Returns
    -------
    clip_index, start, segment : np.ndarray, each shape (n_clips * n_seconds,)
    """
    clip_index = np.repeat(np.arange(n_clips), n_seconds)
    segment = np.tile(np.arange(n_seconds), n_clips)
    return clip_index, segment * visual_fps, segment


def gather_audio(
    audio: np.ndarray, clip_index: np.ndarray, start: np.ndarray, *, ratio: int = 10, frames: int = 50
) -> np.ndarray:
    """Cut audio segments.

    Parameters
    ----------
    audio : np.ndarray, shape (n_clips, n_bands, n_frames, n_channels)
    clip_index, start : np.ndarray, shape (n,)
        Clip and start on the visual grid; audio start = ``start * ratio``.

    Returns
    -------
    np.ndarray, shape (n, n_bands, frames, n_channels)
    """
    offsets = start[:, None] * ratio + np.arange(frames)[None, :]
    return audio[clip_index[:, None], :, offsets].transpose(0, 2, 1, 3)


def gather_visual(visual: np.ndarray, clip_index: np.ndarray, start: np.ndarray, *, steps: int = 5) -> np.ndarray:
    """Cut visual segments: ``visual`` (n_clips, n_frames, dim) → (n, steps, dim)."""
    offsets = start[:, None] + np.arange(steps)[None, :]
    return visual[clip_index[:, None], offsets]


def mixup(
    inputs: list[np.ndarray], labels: np.ndarray, *, alpha: float, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray]:
    """Mixup (Zhang et al. 2018) within a batch: one λ ~ Beta(α, α) per example, same for all inputs.

    ``alpha = 0`` returns the batch unchanged.
    """
    if alpha <= 0:
        return inputs, labels
    n = labels.shape[0]
    lam = np.asarray(rng.beta(alpha, alpha, size=n), dtype=np.float32)
    perm = rng.permutation(n)
    mixed = []
    for x in inputs:
        shape = (n,) + (1,) * (x.ndim - 1)
        mixed.append(lam.reshape(shape) * x + (1 - lam.reshape(shape)) * x[perm])
    return mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[perm]


def one_hot(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Class indices, shape (n,) -> one-hot float32 targets, shape (n, n_classes)."""
    return keras.utils.to_categorical(np.asarray(y).reshape(-1), num_classes=n_classes).astype(np.float32)


def gather_time(arr: Any, clip_index: np.ndarray, start: np.ndarray, *, length: int, time_axis: int) -> np.ndarray:
    """Cut windows of ``length`` frames along the time axis of per-clip arrays.

    Parameters
    ----------
    arr : np.ndarray or ClipStack, shape (n_clips, *clip_shape)
        ``clip_shape[time_axis]`` is time. A :class:`avsc.training.arrays.ClipStack` is read for
        the clips in ``clip_index`` only.
    clip_index, start : np.ndarray, shape (n,)
        Clip and first frame of every window.

    Returns
    -------
    np.ndarray, shape (n, *clip_shape with length frames on time_axis)
    """
    if not isinstance(arr, np.ndarray):  # an on-disk ClipStack: read only the clips the windows touch
        touched, clip_index = np.unique(clip_index, return_inverse=True)
        arr, clip_index = arr[touched], clip_index.reshape(-1)
    axis = 1 + time_axis
    view = np.moveaxis(arr, axis, 1)
    offsets = start[:, None] + np.arange(length)[None, :]
    return np.moveaxis(view[clip_index[:, None], offsets], 1, axis)
