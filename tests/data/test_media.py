"""Reading a video file's audio track: bounded by the video's duration, integer PCM scaled to [-1, 1]."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from avsc.data.media import read_mp4_audio

SR = 48000


def _write(
    path: Path, *, video_s: float, codec: str, sample_format: str, blocks: list[np.ndarray], sample_rate: int = SR
) -> None:
    """A real container: ``video_s`` of 5-fps H.264 and an audio track of ``blocks`` (each (2, n) in [-1, 1])."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(5))
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream(codec, rate=sample_rate)
        audio.layout = "stereo"
        audio.format = sample_format
        if codec == "aac":
            audio.options = {"aac_coder": "fast"}
        for _ in range(round(video_s * 5)):
            for packet in video.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        pts = 0
        for block in blocks:
            frame = av.AudioFrame.from_ndarray(_as_format(block, sample_format), format=sample_format, layout="stereo")
            frame.sample_rate, frame.pts = sample_rate, pts
            pts += block.shape[1]
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


def _as_format(block: np.ndarray, sample_format: str) -> np.ndarray:
    """(2, n) float in [-1, 1] -> the array layout PyAV takes for ``sample_format``."""
    base = sample_format.rstrip("p")
    if base == "flt":
        data = block.astype(np.float32)
    else:
        dtype = {"s16": np.int16, "s32": np.int32}[base]
        data = np.round(block * -np.iinfo(dtype).min).clip(np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
    if sample_format.endswith("p"):
        return np.ascontiguousarray(data)
    return np.ascontiguousarray(data.T).reshape(1, -1)


def _tone(seconds: float, sample_rate: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    left = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    return np.stack([left, -0.25 * np.sin(2 * np.pi * 660.0 * t)])


def test_audio_track_longer_than_the_video_stops_at_the_video(tmp_path):
    path = tmp_path / "long_audio.mp4"
    noise = np.random.default_rng(0).uniform(-0.05, 0.05, (2, SR))
    _write(path, video_s=1.0, codec="aac", sample_format="fltp", blocks=[noise] * 120)  # 1 s video, 120 s audio
    full_bytes = 120 * SR * 2 * 4

    tracemalloc.start()
    try:
        data, sr = read_mp4_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sr == SR
    assert data.dtype == np.float32 and data.shape[1] == 2
    assert 1.0 * SR <= data.shape[0] <= 2.0 * SR  # the video's second plus a small margin, not 120 s
    assert peak < full_bytes / 10, f"peak {peak / 1e6:.1f} MB while reading 1 s of a 120-s track"

    capped, _ = read_mp4_audio(path, max_seconds=0.5)
    assert capped.shape == (SR // 2, 2)
    np.testing.assert_array_equal(capped, data[: SR // 2])


@pytest.mark.parametrize(
    "codec, sample_format",
    [
        ("pcm_s16le", "s16"),  # packed 16-bit (decodes as s16)
        ("pcm_s32le", "s32"),  # packed 32-bit (decodes as s32)
        ("alac", "s16p"),  # planar 16-bit (the ALAC decoder gives s16p)
        ("alac", "s32p"),  # planar 32-bit (s32p)
    ],
)
def test_integer_pcm_is_scaled_to_unit_range(tmp_path, codec, sample_format):
    import av

    path = tmp_path / f"{codec}_{sample_format}.mp4"
    tone = _tone(1.0)
    _write(path, video_s=1.0, codec=codec, sample_format=sample_format, blocks=[tone])
    with av.open(str(path)) as container:  # the file really decodes to the integer format under test
        assert next(container.decode(audio=0)).format.name == sample_format

    data, sr = read_mp4_audio(path)
    assert sr == SR and data.dtype == np.float32
    assert data.shape == (SR, 2)
    atol = 2.0**-15 if "16" in sample_format else 2.0**-23  # ALAC keeps 24 of the 32 bits
    np.testing.assert_allclose(data, tone.T, atol=atol)
    assert np.abs(data[:, 0]).max() == pytest.approx(0.5, abs=1e-3)
    assert np.abs(data[:, 1]).max() == pytest.approx(0.25, abs=1e-3)
