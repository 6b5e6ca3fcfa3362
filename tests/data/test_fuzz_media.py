"""Hostile media at every entry point that decodes it: one line naming the file, no hang, nothing changed.

Each hostile file goes to ``load_clip`` (serving, submission), ``avsc predict``, the visual feature
decoding (``decode_frames``) and the audio feature computation (``audio_file_features``). The
limits are scaled down (``media`` section) so the "too big" files stay small.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from avsc.cli import main
from avsc.config.features import SecrnnAudioFeatures
from avsc.config.media import MediaLimits
from avsc.data.media import decode_frames, write_mp4
from avsc.errors import DataError
from avsc.features.audio_file import audio_file_features
from avsc.inference import load_clip

LIMITS = MediaLimits(max_file_bytes=450_000, max_duration_s=4.0, max_width=160, max_height=120, decode_timeout_s=20)
SR = 48000


def _noise(seconds: float, channels: int = 2, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(1)
    return 0.1 * rng.standard_normal((int(seconds * sr), channels))


def _frames(n: int, width: int, height: int) -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, size=(n, height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A good clip and one hostile file per kind (videos ``*.mp4``, audio ``*.wav`` unless mismatched)."""
    d = tmp_path_factory.mktemp("fuzz")
    files: dict[str, Path] = {}
    write_mp4(d / "good.mp4", _frames(4, 64, 48), fps=2, audio=_noise(2.0))
    sf.write(d / "good.wav", _noise(2.0), SR, subtype="PCM_16")
    good_mp4, good_wav = (d / "good.mp4").read_bytes(), (d / "good.wav").read_bytes()
    files["good_video"], files["good_audio"] = d / "good.mp4", d / "good.wav"

    def put(name: str, data: bytes) -> Path:
        (d / name).write_bytes(data)
        return d / name

    files["video: truncated"] = put("truncated.mp4", good_mp4[: len(good_mp4) // 2])
    files["video: garbage"] = put("garbage.mp4", np.random.default_rng(3).bytes(20_000))
    files["video: zero-length"] = put("empty.mp4", b"")
    write_mp4(d / "huge.mp4", _frames(2, 640, 480), fps=1)
    files["video: huge resolution"] = d / "huge.mp4"
    write_mp4(d / "long.mp4", _frames(12, 16, 16), fps=2, audio=_noise(6.0))
    files["video: very long"] = d / "long.mp4"
    write_mp4(d / "big.mp4", _frames(16, 160, 120), fps=8, crf=0)  # within the resolution limit, past the size
    files["video: too many bytes"] = d / "big.mp4"
    files["video: wrong codec (audio only)"] = put("audio_only.mp4", good_wav)
    files["video: mismatched extension (a WAV)"] = put("really_wav.mp4", good_wav)

    files["audio: truncated"] = put("truncated.wav", good_wav[:30])
    files["audio: garbage"] = put("garbage.wav", np.random.default_rng(4).bytes(20_000))
    files["audio: zero-length"] = put("empty.wav", b"")
    sf.write(d / "long.wav", _noise(6.0, channels=1, sr=8000), 8000, subtype="PCM_U8")
    files["audio: very long"] = d / "long.wav"
    sf.write(d / "ulaw.wav", _noise(2.0, channels=1, sr=8000), 8000, subtype="ULAW")
    files["audio: wrong codec (8 kHz mu-law)"] = d / "ulaw.wav"
    files["audio: mismatched extension (an MP4)"] = put("really_mp4.wav", good_mp4)
    assert (d / "big.mp4").stat().st_size > LIMITS.max_file_bytes
    return files


VIDEO_CASES = [
    "video: truncated",
    "video: garbage",
    "video: zero-length",
    "video: huge resolution",
    "video: very long",
    "video: too many bytes",
    "video: wrong codec (audio only)",
    "video: mismatched extension (a WAV)",
]
AUDIO_CASES = [
    "audio: truncated",
    "audio: garbage",
    "audio: zero-length",
    "audio: very long",
    "audio: wrong codec (8 kHz mu-law)",
    "audio: mismatched extension (an MP4)",
]


def _digests(files: dict[str, Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()}


@pytest.fixture
def unchanged(media):
    before = _digests(media)
    yield
    assert _digests(media) == before, "a hostile input file was modified"


def _one_line_naming(exc: BaseException, path: Path) -> None:
    text = str(exc)
    assert "\n" not in text, text
    assert str(path) in text, text


def test_the_good_clip_passes(media):
    clip = load_clip(audio=media["good_audio"], video=media["good_video"], limits=LIMITS)
    assert clip.n_seconds == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", VIDEO_CASES)
def test_hostile_video(case, media, unchanged):
    bad = media[case]
    for audio in (None, media["good_audio"]):
        with pytest.raises(DataError) as info:
            load_clip(audio=audio, video=bad, limits=LIMITS)
        _one_line_naming(info.value, bad)
    with pytest.raises(DataError) as info:
        decode_frames(bad, fps=2, size=(32, 32), duration_s=2.0, limits=LIMITS)
    _one_line_naming(info.value, bad)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", AUDIO_CASES)
def test_hostile_audio(case, media, unchanged):
    bad = media[case]
    with pytest.raises(DataError) as info:
        load_clip(audio=bad, video=media["good_video"], limits=LIMITS)
    _one_line_naming(info.value, bad)
    with pytest.raises(DataError) as info:
        audio_file_features(bad, cfg=SecrnnAudioFeatures(), duration_s=2.0, limits=LIMITS)
    _one_line_naming(info.value, bad)


@pytest.mark.timeout(120)
def test_avsc_predict_refuses_each_by_name(media, unchanged, tmp_path, monkeypatch, capsys):
    """``avsc predict`` applies params.yaml's ``media`` limits before loading any model."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"media": LIMITS.model_dump()}))
    monkeypatch.setenv("AVSC_ROOT", str(tmp_path))
    model = "models:/never-loaded@champion"
    for case in VIDEO_CASES + AUDIO_CASES:
        bad = media[case]
        pair = (
            ["--video", str(bad)]
            if case.startswith("video")
            else ["--video", str(media["good_video"]), "--audio", str(bad)]
        )
        code = main(["predict", *pair, "--model", model])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, (case, err)
        assert len(lines) == 1 and str(bad) in lines[0] and "never-loaded" not in err, (case, err)


def test_limits_are_named(media):
    with pytest.raises(
        DataError, match=r"640x480 video, over the limit of 160x120 \(media.max_width, media.max_height\)"
    ):
        load_clip(audio=None, video=media["video: huge resolution"], limits=LIMITS)
    with pytest.raises(DataError, match=r"6.0 s long, over the limit of 4 s \(media.max_duration_s\)"):
        load_clip(audio=None, video=media["video: very long"], limits=LIMITS)
    with pytest.raises(DataError, match=r"over the limit of 450000 bytes \(media.max_file_bytes\)"):
        load_clip(audio=None, video=media["video: too many bytes"], limits=LIMITS)
    with pytest.raises(DataError, match="empty file"):
        load_clip(audio=None, video=media["video: zero-length"], limits=LIMITS)


def test_decode_time_limit(media):
    """A decode past ``decode_timeout_s`` stops with the limit named (a tiny limit makes any decode too slow)."""
    slow = LIMITS.model_copy(update={"decode_timeout_s": 1e-9})
    with pytest.raises(DataError, match=r"decoding took longer than 1e-09 s \(media.decode_timeout_s\)"):
        decode_frames(media["good_video"], fps=2, size=(32, 32), duration_s=2.0, limits=slow)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        decode_frames(fifo, fps=2, limits=LIMITS)


@pytest.mark.timeout(120)
def test_validation_reports_each_without_decoding_past_the_limits(media, unchanged):
    """``avsc validate`` probes: each hostile file is a problem row (never an exception, never a hang)."""
    from avsc.data.validation.probe import probe_audio_row, probe_video_row

    for case in VIDEO_CASES:
        row = probe_video_row(media[case], limits=LIMITS)
        assert row["video_error"] and not row["video_decodable"], (case, row)
        assert "\n" not in row["video_error"]
    for case in AUDIO_CASES:
        row = probe_audio_row(media[case], limits=LIMITS)
        if case == "audio: wrong codec (8 kHz mu-law)":  # readable: the validation rules refuse its rate and channels
            assert row["audio_sample_rate"] == 8000 and row["audio_channels"] == 1
            continue
        assert row["audio_error"] and not row["audio_readable_to_end"], (case, row)
    assert "over the limit of 160x120" in probe_video_row(media["video: huge resolution"], limits=LIMITS)["video_error"]
    assert "media.max_duration_s" in probe_audio_row(media["audio: very long"], limits=LIMITS)["audio_error"]
