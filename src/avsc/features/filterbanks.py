"""Frequency-domain filterbanks applied to an STFT magnitude spectrum (joint-optimization front end).

Two banks, both as ``(n_bands, n_fft // 2 + 1)`` weight matrices over the rfft bins, rows in ascending
centre frequency, every row peaking at (about) 1:

* :func:`mel_filterbank` — triangular filters on the HTK mel scale (``2595 log10(1 + f / 700)``),
  no area normalisation; identical to ``librosa.filters.mel(..., htk=True, norm=None)``.
* :func:`wavelet_filterbank` — Gabor (Gaussian-in-frequency, i.e. Morlet without its negligible
  zero-mean correction) wavelets for the "long-term scalogram" of Chen et al. (JASA 2021, ref. [7] of
  the joint-optimization paper). **Deviation:** that paper's filter parameters could not be
  retrieved here (only that the wavelet filters are applied to the long-window STFT spectrum and give
  290 bands), so the bank follows the documented first-order scattering construction of Andén &
  Mallat ("Deep scattering spectrum", IEEE TSP 2014, sec. II), which the same authors' earlier
  scalogram work builds on:

  - constant-Q part: ``Q`` wavelets per octave, centres ``xi_k = xi_0 2**(-k / Q)`` from
    ``xi_0 = (sr / 4)(1 + 2**(-1 / Q))`` (half an inter-filter step below Nyquist), each with a
    full width at half maximum equal to its spacing ``xi_k (1 - 2**(-1 / Q))`` (neighbours cross at
    half amplitude), kept while that width is at least ``min_bandwidth_bins`` STFT bins (the window's
    own resolution: a wavelet cannot be narrower than the analysis window allows);
  - constant-bandwidth part (Andén & Mallat's replacement of the wavelets below ``2 pi Q / T``): the
    remaining ``n_bands - K`` filters linearly spaced between 0 Hz and the lowest wavelet, each with
    a FWHM equal to that spacing.

  ``Q = 45`` is the value for which, with 290 bands at 16 kHz and 512-ms windows, the linear part's
  spacing (3.8 Hz) meets the constant-Q floor (2 bins = 3.9 Hz): the bandwidth is continuous across
  the two parts (224 wavelets above 256 Hz, 66 linear filters below).
"""

from __future__ import annotations

import math

import numpy as np

from avsc.errors import ConfigError

#: FWHM of a Gaussian in units of its standard deviation.
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def fft_frequencies(*, sample_rate: float, n_fft: int) -> np.ndarray:
    """Centre frequencies of the rfft bins.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_fft // 2 + 1,)``, Hz, ``k * sample_rate / n_fft``.
    """
    return np.arange(n_fft // 2 + 1) * (float(sample_rate) / n_fft)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def _check(sample_rate: float, n_fft: int, n_bands: int) -> None:
    if not (np.isfinite(sample_rate) and sample_rate > 0):
        raise ConfigError(f"sample_rate must be positive, got {sample_rate!r}")
    if int(n_fft) != n_fft or n_fft < 4:
        raise ConfigError(f"n_fft must be an integer >= 4, got {n_fft!r}")
    if int(n_bands) != n_bands or n_bands < 1:
        raise ConfigError(f"n_bands must be a positive integer, got {n_bands!r}")


def mel_centres(*, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Centre frequencies (Hz) of :func:`mel_filterbank`'s triangles, shape ``(n_mels,)``."""
    return mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))[1:-1]


def mel_filterbank(
    *, sample_rate: float, n_fft: int, n_mels: int = 256, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Triangular HTK-mel filters (peak 1, no area normalisation).

    ``n_mels + 2`` edges equally spaced on the HTK mel scale from ``f_min`` to ``f_max``; filter ``m``
    rises linearly (in Hz) from edge ``m`` to edge ``m + 1`` and falls to edge ``m + 2``.

    Parameters
    ----------
    sample_rate : float
        Sample rate in Hz.
    n_fft : int
        FFT length (the bins are ``k * sample_rate / n_fft``).
    n_mels : int
        Number of filters.
    f_min, f_max : float
        Band edges in Hz (``f_max`` defaults to Nyquist).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mels, n_fft // 2 + 1)``, float64.
    """
    _check(sample_rate, n_fft, n_mels)
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ConfigError(f"mel filterbank needs 0 <= f_min < f_max <= Nyquist, got {f_min!r}..{f_max!r}")
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    freqs = fft_frequencies(sample_rate=sample_rate, n_fft=n_fft)
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    return np.maximum(0.0, np.minimum(lower, upper))


def wavelet_centres(
    *, sample_rate: float, n_fft: int, n_bands: int = 290, q: float = 45.0, min_bandwidth_bins: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and FWHM bandwidths (Hz) of :func:`wavelet_filterbank`, ascending.

    Returns
    -------
    tuple of numpy.ndarray
        ``(centres, fwhm)``, each of shape ``(n_bands,)``.

    Raises
    ------
    ConfigError
        If the constant-Q part alone needs more than ``n_bands`` filters.
    """
    _check(sample_rate, n_fft, n_bands)
    if not (np.isfinite(q) and q > 0):
        raise ConfigError(f"wavelets per octave q must be positive, got {q!r}")
    ratio = 2.0 ** (-1.0 / q)
    xi0 = sample_rate / 4.0 * (1.0 + ratio)
    floor = min_bandwidth_bins * sample_rate / n_fft
    n_log = math.floor(q * math.log2(xi0 * (1.0 - ratio) / floor)) + 1
    if n_log > n_bands:
        raise ConfigError(f"wavelet filterbank: q={q:g} needs {n_log} constant-Q wavelets, more than n_bands={n_bands}")
    log_centres = xi0 * ratio ** np.arange(max(n_log, 0))
    lowest = log_centres[-1] if n_log > 0 else xi0
    n_lin = n_bands - n_log
    spacing = lowest / (n_lin + 1)
    lin_centres = lowest - spacing * np.arange(1, n_lin + 1)
    centres = np.concatenate([log_centres, lin_centres])[::-1].copy()
    fwhm = np.concatenate([log_centres * (1.0 - ratio), np.full(n_lin, spacing)])[::-1].copy()
    return centres, fwhm


def wavelet_filterbank(
    *, sample_rate: float, n_fft: int, n_bands: int = 290, q: float = 45.0, min_bandwidth_bins: float = 2.0
) -> np.ndarray:
    """Gabor wavelet filters (Gaussian frequency responses, peak 1); see the module docstring.

    Parameters
    ----------
    sample_rate : float
        Sample rate in Hz.
    n_fft : int
        FFT length of the spectrum the bank is applied to.
    n_bands : int
        Total number of filters (290 in the paper).
    q : float
        Wavelets per octave in the constant-Q part.
    min_bandwidth_bins : float
        Narrowest FWHM of a constant-Q wavelet, in STFT bins.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bands, n_fft // 2 + 1)``, float64; row ``b`` is
        ``exp(-(f - centre_b)**2 / (2 sigma_b**2))`` with ``sigma_b = fwhm_b / 2.3548``.
    """
    centres, fwhm = wavelet_centres(
        sample_rate=sample_rate, n_fft=n_fft, n_bands=n_bands, q=q, min_bandwidth_bins=min_bandwidth_bins
    )
    sigma = fwhm / _FWHM_PER_SIGMA
    freqs = fft_frequencies(sample_rate=sample_rate, n_fft=n_fft)
    return np.exp(-0.5 * ((freqs[None, :] - centres[:, None]) / sigma[:, None]) ** 2)


__all__ = [
    "fft_frequencies",
    "hz_to_mel",
    "mel_centres",
    "mel_filterbank",
    "mel_to_hz",
    "wavelet_centres",
    "wavelet_filterbank",
]
