"""One audio front end per model system, behind one call: what the feature stage, the registered
model and the submission path all use, so serving can never drift from training.

Each front end maps a stereo clip to a per-clip array with a time axis at a known frame rate,
fitted to the clip's nominal number of frames (a clip within the validation tolerance of 10 s
gives exactly the frames of 10 s):

================  ==============================  ============================  ==========
system            front end                       per-clip array                frames/s
================  ==============================  ============================  ==========
secrnn            gammatone / log-mel, L R L-R    ``(bands, frames, 3)``        50
dualstream        log-mel of the mono mix (or     ``(frames, 256)`` (``512``)   10
                  the user's OpenL3 embeddings)
joint             long-term FBank / scalogram,    ``(frames, 2, bands)``        5.848
                  average and difference
================  ==============================  ============================  ==========
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avsc.config.features import DualStreamAudioFeatures, LongTermFeatures, SecrnnAudioFeatures
from avsc.errors import ConfigError, DataError

AudioSettings = SecrnnAudioFeatures | DualStreamAudioFeatures | LongTermFeatures


@dataclass(frozen=True)
class FrameLayout:
    """Where time is in a per-clip feature array, and how many frames a second has."""

    time_axis: int
    frames_per_second: float


def audio_layout(cfg: AudioSettings) -> FrameLayout:
    """The layout of the arrays :func:`compute_audio` returns for ``cfg``."""
    if isinstance(cfg, SecrnnAudioFeatures):
        return FrameLayout(time_axis=1, frames_per_second=1.0 / cfg.hop_s)
    if isinstance(cfg, DualStreamAudioFeatures):
        return FrameLayout(time_axis=0, frames_per_second=1.0 / cfg.hop_s)
    if isinstance(cfg, LongTermFeatures):
        from avsc.features.longterm import frames_per_second

        return FrameLayout(
            time_axis=0, frames_per_second=frames_per_second(sample_rate=cfg.sample_rate, hop_s=cfg.hop_s)
        )
    raise ConfigError(f"no audio front end for settings {type(cfg).__name__}")


def nominal_audio_frames(cfg: AudioSettings, *, duration_s: float) -> int:
    """Frames of a clip of exactly ``duration_s`` seconds (500 for 10 s at 20-ms hops; 59 long-term frames)."""
    if isinstance(cfg, LongTermFeatures):
        from avsc.features.longterm import n_frames_for

        return n_frames_for(n_samples=round(duration_s * cfg.sample_rate), sample_rate=cfg.sample_rate, hop_s=cfg.hop_s)
    return round(duration_s / cfg.hop_s)


def fit_frames(x: np.ndarray, *, n_frames: int, axis: int) -> np.ndarray:
    """Trim ``x`` to ``n_frames`` along ``axis``, or pad it by repeating its last frame.

    Returns ``x`` itself when it already has ``n_frames``.
    """
    have = x.shape[axis]
    if have == n_frames:
        return x
    if have > n_frames:
        return np.take(x, np.arange(n_frames), axis=axis)
    if have == 0:
        raise DataError(f"cannot pad an empty array of shape {x.shape} to {n_frames} frames")
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, n_frames - have)
    return np.pad(x, pad, mode="edge")


def mono_logmel(
    audio: np.ndarray, sr: int, *, sample_rate: int, n_bands: int, window_s: float, hop_s: float, f_min: float
) -> np.ndarray:
    """Log-mel spectrum of the mono mix, one frame per hop (the dual-stream's stand-in for OpenL3's input).

    Parameters
    ----------
    audio : numpy.ndarray, shape (n_samples, 2)
        Stereo audio at ``sr``.

    Returns
    -------
    numpy.ndarray, shape (n_samples_resampled // hop, n_bands), float32
        Frame ``m`` covers ``[m * hop_s, m * hop_s + window_s)`` (the end is zero-padded), so the 10
        frames of second ``s`` are frames ``10 s .. 10 s + 9`` at the default 0.1-s hop.
    """
    from avsc.features.audio import LOG_EPS, logmel, resample

    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[1] != 2:
        raise DataError(f"expected stereo audio of shape (n_samples, 2), got shape {audio.shape}")
    mono = resample(audio.mean(axis=1, keepdims=True), sr_in=sr, sr_out=sample_rate)[:, 0]
    n_win, hop = round(window_s * sample_rate), round(hop_s * sample_rate)
    n_frames = mono.shape[0] // hop
    if n_frames < 1:
        raise DataError(f"audio of {audio.shape[0] / sr:.3f} s is shorter than one hop ({hop_s:g} s)")
    padded = np.concatenate([mono, np.zeros(max(n_win - hop, 0))])
    mel = logmel(padded, sample_rate, n_bands=n_bands, window_s=window_s, hop_s=hop_s, f_min=f_min)
    return np.log(mel[:, :n_frames].T + LOG_EPS).astype(np.float32)


def compute_audio(audio: np.ndarray, sr: int, *, cfg: AudioSettings, duration_s: float) -> np.ndarray:
    """The system's audio features of one stereo clip, fitted to ``nominal_audio_frames``.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n_samples, 2)
        Stereo audio at ``sr`` Hz.
    cfg : the ``features.audio.<system>`` settings
    duration_s : the nominal clip duration (``validate.duration_s``; 1.0 for a 1-s evaluation clip)

    Returns
    -------
    numpy.ndarray, float32, laid out as :func:`audio_layout` says.
    """
    if isinstance(cfg, SecrnnAudioFeatures):
        from avsc.features.audio import clip_features

        feats = clip_features(audio, sr, **cfg.model_dump())
    elif isinstance(cfg, DualStreamAudioFeatures):
        if cfg.kind == "embeddings":
            raise ConfigError(
                "features.audio.dualstream.kind: embeddings reads precomputed embeddings; it cannot compute "
                "features from audio (use kind: logmel for raw media)"
            )
        feats = mono_logmel(
            audio,
            sr,
            sample_rate=cfg.sample_rate,
            n_bands=cfg.n_bands,
            window_s=cfg.window_s,
            hop_s=cfg.hop_s,
            f_min=cfg.f_min,
        )
    elif isinstance(cfg, LongTermFeatures):
        from avsc.features.longterm import longterm_features

        feats = longterm_features(audio, sr=sr, **cfg.model_dump())
    else:
        raise ConfigError(f"no audio front end for settings {type(cfg).__name__}")
    layout = audio_layout(cfg)
    n_frames = nominal_audio_frames(cfg, duration_s=duration_s)
    return fit_frames(feats, n_frames=n_frames, axis=layout.time_axis).astype(np.float32, copy=False)


def read_embeddings(path, *, cfg: DualStreamAudioFeatures, duration_s: float) -> np.ndarray:
    """A user's precomputed embeddings ``(10 * seconds, embedding_dim)`` for one clip, fitted to the nominal length."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: embeddings file missing (features.audio.dualstream.embeddings_dir)")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != cfg.embedding_dim or not np.all(np.isfinite(arr)):
        raise DataError(
            f"{path}: expected finite embeddings of shape (hops, {cfg.embedding_dim}), got shape {arr.shape}"
        )
    expected = nominal_audio_frames(cfg, duration_s=duration_s)
    if abs(arr.shape[0] - expected) > math.ceil(0.05 * expected):
        raise DataError(f"{path}: {arr.shape[0]} embedding frames, expected {expected} (one per {cfg.hop_s:g} s)")
    return fit_frames(arr.astype(np.float32), n_frames=expected, axis=0)
