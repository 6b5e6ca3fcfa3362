"""Long-term FBank and scalogram of the joint-optimization system (Chen et al., ICASSP 2022, sec. 2.2.1).

Pipeline per clip: stereo audio resampled to 16 kHz (:func:`resample_poly`, 48 kHz -> 16 kHz is 1/3)
-> average ``(L + R) / 2`` and difference ``(L - R) / 2`` channels -> STFT magnitude over 512-ms
windows every 171 ms -> 256 mel filters (FBank) or 290 wavelet filters (scalogram,
:mod:`avsc.features.filterbanks`) applied to the magnitude -> ``log(x + LOG_EPS)``.

Framing (the paper gives only the window and hop): window ``n_win = round(0.512 * 16000) = 8192``
samples, Hann (periodic), FFT length ``n_win`` (4097 bins, 1.95 Hz apart); hop
``round(0.171 * 16000) = 2736`` samples (171.0 ms). Frames are **centred**: the signal is
reflect-padded by ``n_win // 2`` on both sides and frame ``m`` is centred on sample ``m * hop``, i.e.
at ``m * 0.171`` s. A signal of ``n`` samples gives ``1 + n // hop`` frames: 59 for a 10-s clip,
6 for a 1-s clip; ``16000 / 2736 = 5.848`` frames per second. A frame belongs to the second in which
its centre lies (:func:`frame_seconds`): in a 10-s clip each second holds 5 or 6 frames, and second
``s`` is also the index of the 1-fps video frame it is aligned with.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from avsc.config.features import LongTermFeatures
from avsc.errors import ConfigError, DataError
from avsc.features.filterbanks import mel_filterbank, wavelet_filterbank

#: Additive floor of the log compression (magnitude units): a -160 dB floor.
LOG_EPS = 1e-8
KINDS = ("fbank", "scalogram")


def frame_params(*, sample_rate: int = 16000, window_s: float = 0.512, hop_s: float = 0.171) -> tuple[int, int]:
    """Window and hop in samples, ``(round(window_s * sr), round(hop_s * sr))``: (8192, 2736) by default."""
    n_win, hop = round(window_s * sample_rate), round(hop_s * sample_rate)
    if hop < 1 or n_win < 2:
        raise ConfigError(f"window_s={window_s:g} s / hop_s={hop_s:g} s are too short at {sample_rate} Hz")
    return n_win, hop


def n_frames_for(*, n_samples: int, sample_rate: int = 16000, hop_s: float = 0.171) -> int:
    """Frames of a centred STFT of ``n_samples`` samples (at ``sample_rate``): ``1 + n_samples // hop``."""
    return 1 + int(n_samples) // round(hop_s * sample_rate)


def frames_per_second(*, sample_rate: int = 16000, hop_s: float = 0.171) -> float:
    """Frame rate: ``sample_rate / hop`` (5.848 frames/s by default)."""
    return sample_rate / round(hop_s * sample_rate)


def frame_times(*, n_frames: int, sample_rate: int = 16000, hop_s: float = 0.171) -> np.ndarray:
    """Centre time of every frame in seconds, shape ``(n_frames,)``: ``m * hop / sample_rate``."""
    return np.arange(n_frames) * (round(hop_s * sample_rate) / sample_rate)


def frame_seconds(*, n_frames: int, n_seconds: int, sample_rate: int = 16000, hop_s: float = 0.171) -> np.ndarray:
    """The 1-s segment (and 1-fps video frame) of every frame: ``floor(centre)``, clipped to ``n_seconds - 1``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames,)``, int64, values in ``[0, n_seconds)`` (only a centre exactly at the end of
        the clip is clipped).
    """
    if n_seconds < 1:
        raise ConfigError(f"n_seconds must be >= 1, got {n_seconds}")
    seconds = np.floor(frame_times(n_frames=n_frames, sample_rate=sample_rate, hop_s=hop_s) + 1e-9)
    return np.minimum(seconds.astype(np.int64), n_seconds - 1)


def average_difference(audio: np.ndarray) -> np.ndarray:
    """Average and difference channels of stereo audio.

    Parameters
    ----------
    audio : numpy.ndarray
        Shape ``(n_samples, 2)``: left, right.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, 2)``, float64: ``[:, 0] = (L + R) / 2``, ``[:, 1] = (L - R) / 2``.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 2 or audio.shape[1] != 2:
        raise DataError(f"expected stereo audio of shape (n_samples, 2), got shape {audio.shape}")
    return np.column_stack([(audio[:, 0] + audio[:, 1]) / 2.0, (audio[:, 0] - audio[:, 1]) / 2.0])


def stft_magnitude(x: np.ndarray, *, n_win: int = 8192, hop: int = 2736) -> np.ndarray:
    """Magnitude of the centred, Hann-windowed STFT (FFT length ``n_win``).

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(n_samples,)`` or ``(n_samples, n_channels)``, with ``n_samples > n_win // 2``
        (reflect padding).
    n_win, hop : int
        Window (= FFT) length and hop in samples.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, n_win // 2 + 1)`` or ``(n_frames, n_channels, n_win // 2 + 1)``, float64,
        ``n_frames = 1 + n_samples // hop``; frame ``m`` is centred on sample ``m * hop``.
    """
    x = np.asarray(x, dtype=np.float64)
    mono = x.ndim == 1
    x2 = x[:, None] if mono else x
    if x2.ndim != 2:
        raise DataError(f"expected (n_samples,) or (n_samples, n_channels) audio, got shape {x.shape}")
    n = x2.shape[0]
    if n <= n_win // 2:
        raise DataError(f"signal of {n} samples is too short for a centred {n_win}-sample window")
    padded = np.pad(x2, ((n_win // 2, n_win // 2), (0, 0)), mode="reflect")
    n_frames = 1 + n // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_win, axis=0)[::hop][:n_frames]
    window = scipy.signal.get_window("hann", n_win, fftbins=True)
    mag = np.abs(scipy.fft.rfft(frames * window, axis=-1))  # (n_frames, n_channels, n_bins)
    return mag[:, 0] if mono else mag


@functools.lru_cache(maxsize=8)
def _bank(kind: str, sample_rate: int, n_fft: int, n_bands: int, q: float) -> np.ndarray:
    if kind == "fbank":
        return mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_bands)
    return wavelet_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_bands=n_bands, q=q)


def longterm_features(
    audio: np.ndarray,
    *,
    sr: int,
    kind: Literal["fbank", "scalogram"] = "fbank",
    sample_rate: int = 16000,
    window_s: float = 0.512,
    hop_s: float = 0.171,
    n_mels: int = 256,
    n_wavelets: int = 290,
    wavelets_per_octave: float = 45.0,
) -> np.ndarray:
    """Long-term log-FBank or log-scalogram of a stereo clip, average and difference channels.

    ``longterm_features(audio, sr=sr, **LongTermFeatures().model_dump())`` gives the paper settings.

    Parameters
    ----------
    audio : numpy.ndarray
        Stereo audio, shape ``(n_samples, 2)``, at ``sr`` Hz (48000 for TAU).
    sr : int
        Sample rate of ``audio``.
    kind : {"fbank", "scalogram"}
        Mel filters (``n_mels``) or Gabor wavelet filters (``n_wavelets``, ``wavelets_per_octave``).
    sample_rate : int
        Analysis rate the audio is resampled to (polyphase, :func:`scipy.signal.resample_poly`).
    window_s, hop_s : float
        STFT window and hop in seconds (see the module docstring for the framing).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, 2, n_bands)``, float32: ``[:, 0]`` average, ``[:, 1]`` difference channel,
        ``log(filterbank @ |STFT| + LOG_EPS)``; ``n_frames = 1 + n // hop`` with ``n`` the resampled
        length (59 for 10 s, 6 for 1 s at the defaults).

    Raises
    ------
    ConfigError
        For an unknown ``kind`` or invalid rates/parameters.
    DataError
        For audio that is not stereo, not finite or shorter than half a window.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown long-term feature kind {kind!r}; expected one of {', '.join(KINDS)}")
    if int(sr) != sr or int(sample_rate) != sample_rate or sr <= 0 or sample_rate <= 0:
        raise ConfigError(f"sample rates must be positive integers, got {sr!r} -> {sample_rate!r}")
    n_win, hop = frame_params(sample_rate=sample_rate, window_s=window_s, hop_s=hop_s)
    channels = average_difference(audio)
    if not np.all(np.isfinite(channels)):
        raise DataError("audio contains NaN or infinite samples")
    if sr != sample_rate:
        g = math.gcd(int(sr), int(sample_rate))
        channels = scipy.signal.resample_poly(channels, int(sample_rate) // g, int(sr) // g, axis=0)
    if channels.shape[0] <= n_win // 2:
        raise DataError(
            f"audio of {audio.shape[0] / sr:.3f} s is shorter than half a long-term window ({window_s / 2:g} s)"
        )
    n_bands = n_mels if kind == "fbank" else n_wavelets
    bank = _bank(kind, int(sample_rate), n_win, int(n_bands), float(wavelets_per_octave))
    mag = stft_magnitude(channels, n_win=n_win, hop=hop)  # (n_frames, 2, n_bins)
    out = np.log(mag @ bank.T + LOG_EPS)
    return out.astype(np.float32)


__all__ = [
    "KINDS",
    "LOG_EPS",
    "LongTermFeatures",
    "average_difference",
    "frame_params",
    "frame_seconds",
    "frame_times",
    "frames_per_second",
    "longterm_features",
    "n_frames_for",
    "stft_magnitude",
]
