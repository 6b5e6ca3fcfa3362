"""One audio front end per system: layouts, nominal frame counts, fitting to the nominal length."""

from __future__ import annotations

import numpy as np
import pytest

from avsc.config.features import DualStreamAudioFeatures, LongTermFeatures, SecrnnAudioFeatures
from avsc.errors import ConfigError, DataError
from avsc.features.frontends import (
    audio_layout,
    compute_audio,
    fit_frames,
    mono_logmel,
    nominal_audio_frames,
    read_embeddings,
)

SR = 48000


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.1, 0.1, (round(seconds * SR), 2))


def test_fit_frames_pads_with_the_edge_and_trims():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    padded = fit_frames(x, n_frames=6, axis=1)
    assert padded.shape == (2, 6, 3)
    np.testing.assert_array_equal(padded[:, :4], x)
    np.testing.assert_array_equal(padded[:, 4], x[:, 3])
    np.testing.assert_array_equal(padded[:, 5], x[:, 3])
    np.testing.assert_array_equal(fit_frames(x, n_frames=3, axis=1), x[:, :3])
    assert fit_frames(x, n_frames=4, axis=1) is x


def test_nominal_frames_of_each_system():
    assert nominal_audio_frames(SecrnnAudioFeatures(), duration_s=10.0) == 500
    assert nominal_audio_frames(SecrnnAudioFeatures(), duration_s=3.0) == 150
    assert nominal_audio_frames(DualStreamAudioFeatures(), duration_s=10.0) == 100
    assert nominal_audio_frames(DualStreamAudioFeatures(), duration_s=1.0) == 10
    assert nominal_audio_frames(LongTermFeatures(), duration_s=10.0) == 59  # 1 + 160000 // 2736
    assert nominal_audio_frames(LongTermFeatures(), duration_s=1.0) == 6


def test_layouts():
    assert audio_layout(SecrnnAudioFeatures()).time_axis == 1
    assert audio_layout(SecrnnAudioFeatures()).frames_per_second == pytest.approx(50)
    assert audio_layout(DualStreamAudioFeatures()).frames_per_second == pytest.approx(10)
    joint = audio_layout(LongTermFeatures())
    assert joint.time_axis == 0 and joint.frames_per_second == pytest.approx(16000 / 2736)


@pytest.mark.parametrize("seconds", [2.96, 3.0, 3.04])
def test_each_system_gives_its_shape_at_the_nominal_length(seconds):
    audio = _noise(seconds)
    secrnn = compute_audio(audio, SR, cfg=SecrnnAudioFeatures(n_bands=16), duration_s=3.0)
    dual = compute_audio(audio, SR, cfg=DualStreamAudioFeatures(n_bands=32), duration_s=3.0)
    joint = compute_audio(audio, SR, cfg=LongTermFeatures(n_mels=24), duration_s=3.0)
    assert secrnn.shape == (16, 150, 3)
    assert dual.shape == (30, 32)
    assert joint.shape == (nominal_audio_frames(LongTermFeatures(), duration_s=3.0), 2, 24)
    assert all(x.dtype == np.float32 and np.all(np.isfinite(x)) for x in (secrnn, dual, joint))


def test_mono_logmel_puts_a_tone_in_the_right_band_of_every_hop():
    t = np.arange(2 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 1000.0 * t)
    feats = mono_logmel(
        np.column_stack([tone, tone]), SR, sample_rate=SR, n_bands=64, window_s=1.0, hop_s=0.1, f_min=20.0
    )
    assert feats.shape == (20, 64)
    import librosa

    centres = librosa.mel_frequencies(n_mels=66, fmin=20.0, fmax=SR / 2)[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000.0)))
    assert {int(b) for b in feats[:10].argmax(axis=1)} <= {expected - 1, expected, expected + 1}


def test_embeddings_kind_reads_files_and_cannot_compute_from_audio(tmp_path):
    cfg = DualStreamAudioFeatures(kind="embeddings", embeddings_dir=str(tmp_path))
    np.save(tmp_path / "a.npy", np.ones((29, 512), np.float32))
    got = read_embeddings(tmp_path / "a.npy", cfg=cfg, duration_s=3.0)
    assert got.shape == (30, 512)
    np.save(tmp_path / "bad.npy", np.ones((30, 128), np.float32))
    with pytest.raises(DataError, match="bad.npy: expected finite embeddings of shape"):
        read_embeddings(tmp_path / "bad.npy", cfg=cfg, duration_s=3.0)
    with pytest.raises(ConfigError, match="cannot compute features from audio"):
        compute_audio(_noise(1.0), SR, cfg=cfg, duration_s=1.0)
