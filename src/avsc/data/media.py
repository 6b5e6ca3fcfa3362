"""Reading and writing media: 24-bit WAV (soundfile) and H.264 MP4 (PyAV, which ships ffmpeg).

Writers go through :func:`avsc.io.atomic_path`, so a crash never leaves a half-written file under
the final name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from avsc.errors import DataError
from avsc.io import atomic_path


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe_audio(path: Path | str) -> AudioInfo:
    """Read an audio file's header."""
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise DataError(f"{path}: not a readable audio file ({_short(exc)})") from None
    return AudioInfo(info.samplerate, info.channels, info.frames, info.subtype)


def read_audio(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a whole audio file as float32 ``(n_samples, n_channels)`` and its sample rate."""
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DataError(f"{path}: not a readable audio file ({_short(exc)})") from None
    return data, int(sr)


def write_wav24(path: Path | str, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``(n_samples, n_channels)`` float audio in [-1, 1] as WAV PCM 24-bit."""
    audio = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), audio, sample_rate, subtype="PCM_24", format="WAV")


@dataclass(frozen=True)
class VideoInfo:
    """Facts of a video file's first video stream."""

    width: int
    height: int
    fps: float
    duration_s: float
    codec: str
    has_audio: bool


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def probe_video(path: Path | str) -> VideoInfo:
    """Read a video container's header (no decoding)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            return VideoInfo(
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=fps,
                duration_s=duration,
                codec=stream.codec_context.name,
                has_audio=bool(container.streams.audio),
            )
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: not a readable video file ({_short(exc)})") from None


def decode_frames(
    path: Path | str,
    *,
    fps: float,
    size: tuple[int, int] | None = None,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode frames at ``fps``, time-aligned with the audio seconds.

    Frame ``k`` is the last decoded frame whose timestamp is at or before ``k / fps``, so
    seconds of audio and groups of ``fps`` frames line up.

    Returns
    -------
    frames : np.ndarray, shape (n_frames, height, width, 3), dtype uint8
        ``n_frames = round(duration_s * fps)``; ``size`` is ``(width, height)`` of the output.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base if stream.time_base is not None else Fraction(0)
            if duration_s is None:
                if stream.duration:
                    duration_s = float(stream.duration * time_base)
                elif container.duration is not None:
                    duration_s = container.duration / 1e6
                else:
                    raise DataError(f"{path}: the video states no duration")
            n_out = round(duration_s * fps)
            targets = [k / fps for k in range(n_out)]
            out: list[np.ndarray] = []
            last = None
            t_idx = 0
            for frame in container.decode(stream):
                t = float(frame.pts * time_base) if frame.pts is not None else 0.0
                while t_idx < n_out and t > targets[t_idx] + 1e-6 and last is not None:
                    out.append(last)
                    t_idx += 1
                if t_idx >= n_out:
                    break
                if size is not None:
                    last = frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
                else:
                    last = frame.to_ndarray(format="rgb24")
            while t_idx < n_out and last is not None:
                out.append(last)
                t_idx += 1
    except Exception as exc:
        raise DataError(f"{path}: video cannot be decoded ({_short(exc)})") from None
    if not out:
        raise DataError(f"{path}: video has no decodable frames")
    return np.stack(out)


def write_mp4(
    path: Path | str,
    frames: np.ndarray,
    *,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    crf: int = 28,
) -> None:
    """Write uint8 ``(n, h, w, 3)`` frames as H.264 MP4 (yuv420p), optionally with AAC audio."""
    import av

    frames = np.asarray(frames, dtype=np.uint8)
    with atomic_path(path, suffix=".mp4") as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        stream.codec_context.thread_count = 1
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout = "stereo" if audio.shape[1] == 2 else "mono"
            astream.options = {"aac_coder": "fast"}  # 2x faster than the default twoloop coder
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if astream is not None and audio is not None:
            pcm = np.ascontiguousarray(audio.T.astype(np.float32))
            aframe = av.AudioFrame.from_ndarray(pcm, format="fltp", layout=astream.layout.name)
            aframe.sample_rate = sample_rate
            for packet in astream.encode(aframe):
                container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)


#: How far past the end of the video an audio track is read (seconds).
AUDIO_MARGIN_S = 0.5


def read_mp4_audio(path: Path | str, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode the audio track of a video file as float32 ``(n_samples, n_channels)`` in [-1, 1].

    Decoding stops at the video stream's duration plus ``AUDIO_MARGIN_S`` (a track far longer than
    its video is never read whole) and at ``max_seconds`` when given. Integer samples (``u8``,
    ``s16``, ``s32``, ``s64``, packed or planar) are scaled by ``2 ** (bits - 1)``.

    Returns
    -------
    audio : np.ndarray, shape (n_samples, n_channels), dtype float32
    sample_rate : int
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DataError(f"{path}: the video has no audio track")
            stream = container.streams.audio[0]
            sr = int(stream.codec_context.sample_rate or stream.rate)
            limit_s = _audio_limit_s(container, max_seconds)
            limit = None if limit_s is None else max(0, math.ceil(limit_s * sr))
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                if limit is not None and total >= limit:
                    break
                chunk = _frame_samples(frame)
                chunks.append(chunk)
                total += chunk.shape[0]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: audio track cannot be decoded ({_short(exc)})") from None
    if not chunks:
        raise DataError(f"{path}: the audio track is empty")
    data = np.concatenate(chunks)
    return (data if limit is None else data[:limit]), sr


def _audio_limit_s(container, max_seconds: float | None) -> float | None:
    """Seconds of audio worth reading: the video stream's duration + margin, capped by ``max_seconds``."""
    limits = [max_seconds] if max_seconds is not None else []
    if container.streams.video:
        video = container.streams.video[0]
        if video.duration is not None and video.time_base is not None:
            limits.append(float(video.duration * video.time_base) + AUDIO_MARGIN_S)
        elif video.frames and video.average_rate:
            limits.append(video.frames / float(video.average_rate) + AUDIO_MARGIN_S)
    return min(limits) if limits else None


def _frame_samples(frame) -> np.ndarray:
    """One decoded audio frame as float32 ``(n_samples, n_channels)``, integers scaled to [-1, 1]."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, channels)
    if np.issubdtype(arr.dtype, np.unsignedinteger):  # u8: offset binary
        half = float(np.iinfo(arr.dtype).max // 2 + 1)
        return ((arr.astype(np.float32) - half) / half).astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return (arr.astype(np.float64) / -float(np.iinfo(arr.dtype).min)).astype(np.float32)
    return arr.astype(np.float32, copy=False)
