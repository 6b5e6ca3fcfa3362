"""Audio front ends of one clip: a log-mel with the gammatonegram's framing, resampling, channels.

:func:`clip_features` is the per-clip entry point (``L, R, L-R`` channels through
:func:`~avsc.features.gammatone.gammatonegram` or :func:`logmel`, log-compressed); the
gammatonegram itself lives in :mod:`avsc.features.gammatone`, the framing in
:mod:`avsc.features.framing`.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.signal

from avsc.errors import ConfigError, DataError
from avsc.features.framing import check_params, check_signal
from avsc.features.gammatone import gammatonegram

log = logging.getLogger(__name__)

#: Additive floor of the log compression in :func:`clip_features` (amplitude units).
LOG_EPS = 1e-8
KINDS = ("gammatone", "logmel")


def logmel(
    x: np.ndarray,
    sr: float,
    *,
    n_bands: int = 64,
    window_s: float = 0.04,
    hop_s: float = 0.02,
    f_min: float = 50.0,
) -> np.ndarray:
    """Mel "RMS" spectrogram with exactly the framing of :func:`gammatonegram`.

    ``librosa.feature.melspectrogram`` with ``n_fft = win_length = n_win`` (Hann window),
    ``hop_length = hop``, ``center=False`` (frame ``m`` = samples ``[m * hop, m * hop + n_win)``),
    Slaney mel filters from ``f_min`` to ``sr / 2``. The mel *power* is converted to magnitude
    with a square root, so that like the gammatonegram the output is in amplitude units and
    ``log`` of either differs from dB only by a factor (no logarithm is applied here despite the
    name; :func:`clip_features` applies it).

    Parameters
    ----------
    x : numpy.ndarray
        Mono signal, shape ``(n_samples,)``.
    sr : float
        Sample rate in Hz.
    n_bands, window_s, hop_s, f_min
        As for :func:`gammatonegram`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bands, n_frames)``, float64, ``n_frames = 1 + (n_samples - n_win) // hop``.
    """
    import librosa

    n_win, hop = check_params(sr=sr, n_bands=n_bands, window_s=window_s, hop_s=hop_s, f_min=f_min)
    x = check_signal(x, n_win=n_win)
    power = librosa.feature.melspectrogram(
        y=x,
        sr=sr,
        n_fft=n_win,
        hop_length=hop,
        win_length=n_win,
        window="hann",
        center=False,
        power=2.0,
        n_mels=int(n_bands),
        fmin=float(f_min),
        fmax=sr / 2.0,
    )
    return np.sqrt(power)


def resample(x: np.ndarray, *, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (``scipy.signal.resample_poly``; 48 kHz -> 44.1 kHz is 147/160).

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(n_samples,)`` or ``(n_samples, n_channels)``.
    sr_in, sr_out : int
        Input and output sample rates in Hz (integers).

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(n_samples * sr_out / sr_in),)`` or ``(…, n_channels)``, float64; ``x``
        itself (as float64) when the rates are equal.
    """
    if int(sr_in) != sr_in or int(sr_out) != sr_out or sr_in <= 0 or sr_out <= 0:
        raise ConfigError(f"sample rates must be positive integers, got {sr_in!r} -> {sr_out!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise DataError(f"expected (n_samples,) or (n_samples, n_channels) audio, got shape {x.shape}")
    if sr_in == sr_out:
        return x
    g = math.gcd(int(sr_in), int(sr_out))
    return scipy.signal.resample_poly(x, int(sr_out) // g, int(sr_in) // g, axis=0)


def stereo_channels(x: np.ndarray) -> np.ndarray:
    """Left, right and left minus right.

    Parameters
    ----------
    x : numpy.ndarray
        Stereo audio, shape ``(n_samples, 2)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, 3)``: ``[:, 0]`` left, ``[:, 1]`` right, ``[:, 2]`` left - right.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise DataError(f"expected stereo audio of shape (n_samples, 2), got shape {x.shape}")
    return np.column_stack([x[:, 0], x[:, 1], x[:, 0] - x[:, 1]])


def clip_features(
    audio: np.ndarray,
    sr: int,
    *,
    kind: str = "gammatone",
    sample_rate: int = 44100,
    n_bands: int = 64,
    window_s: float = 0.04,
    hop_s: float = 0.02,
    f_min: float = 50.0,
) -> np.ndarray:
    """Log-compressed time-frequency features of a stereo clip, 3 channels (L, R, L-R).

    The audio is resampled from ``sr`` to ``sample_rate`` (:func:`resample`), split into
    :func:`stereo_channels`, and each channel goes through :func:`gammatonegram` or
    :func:`logmel`; the result is ``log(feature + LOG_EPS)`` (natural log of an RMS amplitude,
    ``LOG_EPS = 1e-8``, i.e. a -160 dB floor).

    Framing: the resampled signal (``n`` samples) is zero-padded at the end by
    ``n_win - hop`` samples (one hop for the default 40 ms / 20 ms), which makes the reference
    framing give exactly ``n // hop`` frames; frame ``m`` covers
    ``[m * hop_s, m * hop_s + window_s)`` seconds of the clip. So with 20-ms hops there are
    50 frames per second, second ``s`` of the clip starts at frame ``50 * s``, and a 10-s clip
    gives exactly 500 frames (``floor(duration * 50)``); the last frame reads 20 ms of padding.

    Parameters
    ----------
    audio : numpy.ndarray
        Stereo audio, shape ``(n_samples, 2)``, at ``sr`` Hz.
    sr : int
        Sample rate of ``audio`` (48000 for TAU).
    kind : {"gammatone", "logmel"}
        Which time-frequency representation.
    sample_rate : int
        Rate the audio is resampled to before analysis.
    n_bands, window_s, hop_s, f_min
        As for :func:`gammatonegram`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bands, n_frames, 3)``, float32, ``n_frames = n // hop`` with ``n`` the
        resampled length and ``hop = round(hop_s * sample_rate)``.

    Raises
    ------
    ConfigError
        For an unknown ``kind`` or invalid parameters.
    DataError
        For audio that is not stereo or shorter than one window.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown audio feature kind {kind!r}; expected one of {', '.join(KINDS)}")
    n_win, hop = check_params(sr=sample_rate, n_bands=n_bands, window_s=window_s, hop_s=hop_s, f_min=f_min)
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[1] != 2:
        raise DataError(f"expected stereo audio of shape (n_samples, 2), got shape {audio.shape}")
    channels = stereo_channels(resample(audio, sr_in=sr, sr_out=sample_rate))
    n = channels.shape[0]
    if n < n_win:
        raise DataError(f"audio of {audio.shape[0] / sr:.3f} s is shorter than one window ({window_s:g} s)")
    n_frames = n // hop
    padded = np.concatenate([channels, np.zeros((n_win - hop, 3))], axis=0)
    fn = gammatonegram if kind == "gammatone" else logmel
    out = np.empty((n_bands, n_frames, 3), dtype=np.float32)
    for c in range(3):
        feat = fn(padded[:, c], sample_rate, n_bands=n_bands, window_s=window_s, hop_s=hop_s, f_min=f_min)
        out[:, :, c] = np.log(feat[:, :n_frames] + LOG_EPS)
    log.debug("clip features %s: %s from %d samples at %d Hz", kind, out.shape, audio.shape[0], sr)
    return out
