"""One WAV file's audio features at the nominal length."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avsc.config.features import SecrnnAudioFeatures
from avsc.errors import DataError
from avsc.features.audio_file import audio_file_features

CFG = SecrnnAudioFeatures(kind="logmel", sample_rate=44100, n_bands=16, window_s=0.04, hop_s=0.02, f_min=50.0)


@pytest.mark.parametrize("seconds, computed", [(2.96, 148), (3.0, 150), (3.04, 152)])
def test_audio_file_features_have_the_nominal_length(tmp_path, seconds, computed):
    path = tmp_path / "clip.wav"
    audio = np.random.default_rng(0).uniform(-0.1, 0.1, (round(seconds * 48000), 2))
    sf.write(path, audio, 48000, subtype="PCM_24")
    feats = audio_file_features(path, cfg=CFG, duration_s=3.0)
    assert feats.shape == (16, 150, 3) and feats.dtype == np.float32
    last = min(computed, 150) - 1
    np.testing.assert_array_equal(feats[:, 149], feats[:, last])


def test_audio_file_features_reject_far_too_short_or_mono(tmp_path):
    short, mono = tmp_path / "short.wav", tmp_path / "mono.wav"
    sf.write(short, np.zeros((48000, 2)), 48000, subtype="PCM_24")
    sf.write(mono, np.zeros((3 * 48000, 1)), 48000, subtype="PCM_24")
    with pytest.raises(DataError, match="short.wav: 1.00 s of audio, expected 3 s"):
        audio_file_features(short, cfg=CFG, duration_s=3.0)
    with pytest.raises(DataError, match="mono.wav: expected 2 channels"):
        audio_file_features(mono, cfg=CFG, duration_s=3.0)
