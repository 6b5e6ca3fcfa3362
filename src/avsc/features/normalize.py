"""Per-band, per-channel normalisation statistics fitted on the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avsc.data.media import atomic_path


class RunningStats:
    """Streaming mean and variance over the frame axis of ``(n_bands, n_frames, n_channels)`` arrays."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.total_sq: np.ndarray | None = None

    def update(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float64)
        if self.total is None:
            self.total = np.zeros((x.shape[0], x.shape[2]))
            self.total_sq = np.zeros((x.shape[0], x.shape[2]))
        self.total += x.sum(axis=1)
        self.total_sq += (x**2).sum(axis=1)
        self.count += x.shape[1]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation, each ``(n_bands, n_channels)`` float32."""
        if not self.count:
            raise ValueError("no training features to fit normalisation statistics on")
        mean = self.total / self.count
        var = np.maximum(self.total_sq / self.count - mean**2, 1e-12)
        return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def save_stats(path: Path | str, *, mean: np.ndarray, std: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, mean=mean, std=std)


def load_stats(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["mean"], data["std"]


def apply_stats(features: np.ndarray, *, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Normalise ``(..., n_bands, n_frames, n_channels)`` features with ``(n_bands, n_channels)`` stats."""
    return ((features - mean[:, None, :]) / std[:, None, :]).astype(np.float32)
