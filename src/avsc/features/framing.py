"""Framing shared by the audio front ends: the reference gammatonegram's window, hop and frame count.

Windows and hops are rounded half away from zero like ``gammatone.gtgram``, and a signal gives
``1 + floor((n_samples - n_win) / hop)`` frames, so every front end lines up frame for frame.
"""

from __future__ import annotations

import numpy as np

from avsc.errors import ConfigError, DataError


def round_half_away(value: float) -> int:
    """Round like the reference (``gammatone.gtgram.round_half_away_from_zero``)."""
    return int(np.sign(value) * np.floor(abs(value) + 0.5))


def frame_params(*, sr: float, window_s: float, hop_s: float) -> tuple[int, int]:
    """Window and hop in samples, rounded exactly as the reference does.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds.

    Returns
    -------
    tuple of int
        ``(n_win, hop_samples)``.
    """
    return round_half_away(window_s * sr), round_half_away(hop_s * sr)


def n_frames_for(*, n_samples: int, n_win: int, hop: int) -> int:
    """Number of frames of the reference framing: ``1 + floor((n_samples - n_win) / hop)``."""
    return 1 + (n_samples - n_win) // hop


def check_params(*, sr: float, n_bands: int, window_s: float, hop_s: float, f_min: float) -> tuple[int, int]:
    """Validate a front end's settings (:class:`~avsc.errors.ConfigError` naming the rule); ``(n_win, hop)``."""
    if not isinstance(n_bands, (int, np.integer)) or isinstance(n_bands, bool) or n_bands < 1:
        raise ConfigError(f"n_bands must be a positive integer, got {n_bands!r}")
    if not (np.isfinite(sr) and sr > 0):
        raise ConfigError(f"sample rate must be positive, got {sr!r}")
    if not (np.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"window_s must be positive, got {window_s!r}")
    if not (np.isfinite(hop_s) and hop_s > 0):
        raise ConfigError(f"hop_s must be positive, got {hop_s!r}")
    if hop_s > window_s:
        raise ConfigError(f"hop_s ({hop_s:g} s) must not exceed window_s ({window_s:g} s)")
    if not (np.isfinite(f_min) and f_min > 0):
        raise ConfigError(f"f_min must be positive, got {f_min!r}")
    if f_min >= sr / 2:
        raise ConfigError(f"sample rate {sr:g} Hz is too low for f_min={f_min:g} Hz (Nyquist {sr / 2:g} Hz)")
    n_win, hop = frame_params(sr=sr, window_s=window_s, hop_s=hop_s)
    if hop < 1 or n_win < 1:
        raise ConfigError(f"window_s={window_s:g} s / hop_s={hop_s:g} s are shorter than one sample at {sr:g} Hz")
    return n_win, hop


def check_signal(x: np.ndarray, *, n_win: int) -> np.ndarray:
    """A 1-D, finite float64 signal at least one window long (:class:`~avsc.errors.DataError` otherwise)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise DataError(f"expected a 1-D signal (n_samples,), got shape {x.shape}")
    if x.shape[0] < n_win:
        raise DataError(f"signal of {x.shape[0]} samples is shorter than one window ({n_win} samples)")
    if not np.all(np.isfinite(x)):
        raise DataError("signal contains NaN or infinite samples")
    return x
