"""Per-band, per-channel normalisation statistics fitted on the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avsc.io import atomic_path


class RunningStats:
    """Streaming mean and variance over one axis of per-clip arrays.

    ``axis`` is the time axis of the per-clip arrays: 1 for the SE-CRNN's ``(n_bands, n_frames,
    n_channels)`` (stats per band and channel), 0 for ``(n_frames, dim)`` embeddings (stats per
    dimension) and the joint system's ``(n_frames, 2, n_bands)``.

    A streaming sum and sum of squares in float64, one clip at a time: sklearn's
    ``StandardScaler.partial_fit`` gives the same numbers but wants 2-D batches, which for the
    SE-CRNN's band-and-channel statistics means a transposed copy of every clip.
    """

    def __init__(self, *, axis: int = 1) -> None:
        self.axis = axis
        self.count = 0
        self.total: np.ndarray | None = None
        self.total_sq: np.ndarray | None = None

    def update(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float64)
        total, total_sq = x.sum(axis=self.axis), (x**2).sum(axis=self.axis)
        if self.total is None:
            self.total, self.total_sq = total, total_sq
        else:
            self.total += total
            self.total_sq += total_sq
        self.count += x.shape[self.axis]

    def result(self, *, min_std_ratio: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (float32, the array shape without ``axis``).

        ``min_std_ratio`` floors each std at that fraction of the largest one, so near-constant
        dimensions (e.g. of a random backbone) are not blown up by the division.
        """
        if not self.count or self.total is None or self.total_sq is None:
            raise ValueError("no training features to fit normalisation statistics on")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 1e-12))
        if min_std_ratio:
            std = np.maximum(std, min_std_ratio * float(std.max()))
        return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)


def save_stats(path: Path | str, *, mean: np.ndarray, std: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, mean=mean, std=std)


def load_stats(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["mean"], data["std"]


def apply_stats(features: np.ndarray, *, mean: np.ndarray, std: np.ndarray, time_axis: int) -> np.ndarray:
    """Normalise per-clip features (or a batch of them) with statistics fitted over ``time_axis``.

    ``mean`` and ``std`` have the per-clip array's shape without its time axis; ``time_axis`` is the
    axis of time in the per-clip array (a leading batch axis broadcasts).
    """
    m, s = np.expand_dims(mean, time_axis), np.expand_dims(std, time_axis)
    return ((features - m) / s).astype(np.float32)
