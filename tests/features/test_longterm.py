"""Long-term FBank / scalogram: shapes, framing and timing, channels, tones, real clips, errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avsc.config.features import LongTermFeatures
from avsc.errors import ConfigError, DataError
from avsc.features.filterbanks import mel_centres, wavelet_centres
from avsc.features.longterm import (
    LOG_EPS,
    average_difference,
    frame_params,
    frame_seconds,
    frame_times,
    frames_per_second,
    longterm_features,
    n_frames_for,
    stft_magnitude,
)

SR = 48000
RNG = np.random.default_rng(0)


def _noise(seconds: float) -> np.ndarray:
    return RNG.standard_normal((round(SR * seconds), 2)) * 0.1


def test_framing_numbers():
    assert frame_params() == (8192, 2736)  # 512 ms and 171 ms at 16 kHz
    assert frames_per_second() == pytest.approx(16000 / 2736)
    assert n_frames_for(n_samples=160000) == 59
    assert n_frames_for(n_samples=16000) == 6
    np.testing.assert_allclose(frame_times(n_frames=3), [0.0, 0.171, 0.342])


@pytest.mark.parametrize("kind,bands", [("fbank", 256), ("scalogram", 290)])
@pytest.mark.parametrize("seconds,frames", [(10, 59), (1, 6)])
def test_shapes(kind, bands, seconds, frames):
    cfg = LongTermFeatures(kind=kind)
    out = longterm_features(_noise(seconds), sr=SR, **cfg.model_dump())
    assert cfg.n_bands == bands
    assert out.shape == (frames, 2, bands)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert frames == n_frames_for(n_samples=16000 * seconds)


def test_frame_seconds_of_a_clip():
    seconds = frame_seconds(n_frames=59, n_seconds=10)
    centres = frame_times(n_frames=59)
    np.testing.assert_array_equal(seconds, np.floor(centres).astype(int))
    counts = np.bincount(seconds, minlength=10)
    assert counts.sum() == 59 and set(counts) == {5, 6}  # 5.85 frames per second
    assert counts[6] == 5  # centres 6.156 ... 6.840 (the 6th would be at 7.011)
    np.testing.assert_array_equal(frame_seconds(n_frames=6, n_seconds=1), np.zeros(6, dtype=int))
    # a centre exactly at the end of the clip stays in the last second
    assert frame_seconds(n_frames=3, n_seconds=1, sample_rate=2, hop_s=0.5).tolist() == [0, 0, 0]


def test_stft_centred_framing():
    x = np.zeros(20000)
    x[2736 * 3] = 1.0  # an impulse at the centre of frame 3
    mag = stft_magnitude(x)
    assert mag.shape == (1 + 20000 // 2736, 4097)
    energy = mag.sum(axis=1)
    assert np.argmax(energy) == 3
    np.testing.assert_allclose(mag[3], 1.0, rtol=1e-12)  # Hann window is 1 at its centre: flat spectrum


@pytest.mark.parametrize("kind", ["fbank", "scalogram"])
def test_tone_in_left_channel_peaks_in_its_band_in_both_channels(kind):
    t = np.arange(10 * SR) / SR
    tone = 0.1 * np.sin(2 * np.pi * 1000.0 * t)
    audio = np.column_stack([tone, np.zeros_like(tone)])  # average = difference = tone / 2
    out = longterm_features(audio, sr=SR, kind=kind)
    if kind == "fbank":
        centres = mel_centres(n_mels=256, f_min=0.0, f_max=8000.0)
    else:
        centres = wavelet_centres(sample_rate=16000, n_fft=8192)[0]
    expected = int(np.argmin(np.abs(centres - 1000.0)))
    inner = out[2:-2]  # the first and last two frames reach into the reflect padding, which smears a tone
    for channel in (0, 1):
        assert np.all(np.argmax(inner[:, channel], axis=1) == expected)
    np.testing.assert_allclose(out[:, 0], out[:, 1], atol=1e-5)


def test_identical_channels_give_a_silent_difference():
    mono = _noise(3)[:, 0]
    out = longterm_features(np.column_stack([mono, mono]), sr=SR)
    assert np.all(out[:, 1] == np.float32(np.log(LOG_EPS)))
    assert out[:, 0].min() > np.log(LOG_EPS) + 10


def test_average_difference():
    audio = np.array([[1.0, 3.0], [2.0, -2.0]])
    np.testing.assert_array_equal(average_difference(audio), [[2.0, -1.0], [0.0, 2.0]])


def test_real_clip_matches_librosa_reference(tau_audio_dir):
    import librosa
    import scipy.signal

    wav = sorted(tau_audio_dir.glob("*.wav"))[0]
    audio, sr = sf.read(wav, dtype="float64", always_2d=True)
    assert sr == 48000
    out = longterm_features(audio, sr=sr)
    assert out.shape == (59, 2, 256)
    avg = scipy.signal.resample_poly((audio[:, 0] + audio[:, 1]) / 2, 1, 3)
    mel = librosa.feature.melspectrogram(
        y=avg,
        sr=16000,
        n_fft=8192,
        hop_length=2736,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=1.0,
        n_mels=256,
        fmin=0.0,
        fmax=8000.0,
        htk=True,
        norm=None,
    )
    np.testing.assert_allclose(out[:, 0], np.log(mel.T + LOG_EPS), atol=2e-4)


def test_errors():
    with pytest.raises(ConfigError, match="unknown long-term feature kind"):
        longterm_features(_noise(1), sr=SR, kind="mfcc")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="stereo"):
        longterm_features(_noise(1)[:, 0], sr=SR)
    with pytest.raises(DataError, match="shorter than half a long-term window"):
        longterm_features(_noise(0.2), sr=SR)
    bad = _noise(1)
    bad[10, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        longterm_features(bad, sr=SR)
    with pytest.raises(ConfigError, match="positive integers"):
        longterm_features(_noise(1), sr=44100.5)  # type: ignore[arg-type]
