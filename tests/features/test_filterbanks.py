"""Mel and wavelet filterbanks of the long-term front end."""

from __future__ import annotations

import numpy as np
import pytest

from avsc.errors import ConfigError
from avsc.features.filterbanks import (
    fft_frequencies,
    hz_to_mel,
    mel_centres,
    mel_filterbank,
    mel_to_hz,
    wavelet_centres,
    wavelet_filterbank,
)

SR, N_FFT = 16000, 8192


def test_mel_filterbank_equals_librosa_htk():
    import librosa

    ours = mel_filterbank(sample_rate=SR, n_fft=N_FFT, n_mels=256)
    ref = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=256, fmin=0.0, fmax=SR / 2, htk=True, norm=None)
    assert ours.shape == (256, N_FFT // 2 + 1)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert np.all(ours.sum(axis=1) > 0), "no empty mel filter at 1.95 Hz resolution"


def test_mel_scale_round_trip_and_centres():
    hz = np.array([0.0, 700.0, 1000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-9)
    assert hz_to_mel(700.0) == pytest.approx(2595.0 * np.log10(2.0))
    centres = mel_centres(n_mels=256, f_min=0.0, f_max=SR / 2)
    bank = mel_filterbank(sample_rate=SR, n_fft=N_FFT, n_mels=256)
    peaks = fft_frequencies(sample_rate=SR, n_fft=N_FFT)[np.argmax(bank, axis=1)]
    assert np.all(np.abs(peaks - centres) <= SR / N_FFT)


def test_wavelet_bank_construction():
    centres, fwhm = wavelet_centres(sample_rate=SR, n_fft=N_FFT)
    assert centres.shape == fwhm.shape == (290,)
    assert np.all(np.diff(centres) > 0) and centres[0] > 0 and centres[-1] < SR / 2
    ratio = 2.0 ** (-1.0 / 45)
    # constant-Q part: 224 wavelets, 45 per octave, FWHM = spacing, from half a step below Nyquist
    np.testing.assert_allclose(centres[-1], SR / 4 * (1 + ratio))
    np.testing.assert_allclose(centres[-224:-1] / centres[-223:], ratio)
    np.testing.assert_allclose(fwhm[-224:] / centres[-224:], 1 - ratio)
    assert fwhm[-224:].min() >= 2 * SR / N_FFT
    # constant-bandwidth part: 66 filters linearly spaced down to 0 Hz, width = spacing ~ the floor
    lin = centres[:66]
    np.testing.assert_allclose(np.diff(lin), lin[0])
    np.testing.assert_allclose(fwhm[:66], lin[0])
    assert 0.95 < fwhm[65] / fwhm[66] <= 1.0


def test_wavelet_filterbank_gaussian_rows():
    bank = wavelet_filterbank(sample_rate=SR, n_fft=N_FFT)
    centres, fwhm = wavelet_centres(sample_rate=SR, n_fft=N_FFT)
    freqs = fft_frequencies(sample_rate=SR, n_fft=N_FFT)
    assert bank.shape == (290, N_FFT // 2 + 1)
    assert np.all(np.abs(freqs[np.argmax(bank, axis=1)] - centres) <= SR / N_FFT / 2 + 1e-9)
    assert bank.max(axis=1).min() > 0.8  # every filter reaches at least one bin near its peak
    # half amplitude at centre +- FWHM / 2 (a Gaussian evaluated off-grid via a finer FFT)
    fine = wavelet_filterbank(sample_rate=SR, n_fft=N_FFT * 64, min_bandwidth_bins=2.0 * 64)  # same bank
    fine_f = fft_frequencies(sample_rate=SR, n_fft=N_FFT * 64)
    np.testing.assert_allclose(wavelet_centres(sample_rate=SR, n_fft=N_FFT * 64, min_bandwidth_bins=128)[0], centres)
    b = 200
    half = fine[b] >= 0.5
    width = fine_f[half][-1] - fine_f[half][0]
    assert width == pytest.approx(fwhm[b], abs=2 * SR / (N_FFT * 64))


def test_wavelet_bank_errors():
    with pytest.raises(ConfigError, match="more than n_bands=50"):
        wavelet_centres(sample_rate=SR, n_fft=N_FFT, n_bands=50, q=45)
    with pytest.raises(ConfigError, match="positive"):
        wavelet_filterbank(sample_rate=SR, n_fft=N_FFT, q=0)
    with pytest.raises(ConfigError, match="f_min < f_max"):
        mel_filterbank(sample_rate=SR, n_fft=N_FFT, f_min=9000.0)
