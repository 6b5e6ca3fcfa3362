"""Reading and writing media: 24-bit WAV (soundfile) and H.264 MP4 (PyAV, which ships ffmpeg).

Writers go through :func:`avsc.io.atomic_path`, so a crash never leaves a half-written file under
the final name. Readers apply :class:`avsc.config.media.MediaLimits` (``media`` in ``params.yaml``):
a file past a limit (size, header duration, resolution) is refused by name before it is decoded,
and a decode that runs past ``decode_timeout_s`` stops with a one-line :class:`DataError`.
"""

from __future__ import annotations

import math
import os
import stat
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.errors import DataError
from avsc.io import atomic_path

#: Highest audio sample rate accepted from a container header (anything above is a corrupt header).
MAX_SAMPLE_RATE = 384_000


def check_media_file(path: Path | str, *, limits: MediaLimits = DEFAULT_LIMITS) -> int:
    """Refuse what must not be opened: missing, not a regular file (a FIFO would block), empty, too big.

    Symlinks are followed (the size is the target's). Returns the size in bytes.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file")
    if st.st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    if st.st_size > limits.max_file_bytes:
        raise DataError(
            f"{path}: {st.st_size} bytes, over the limit of {limits.max_file_bytes} bytes (media.max_file_bytes)"
        )
    return st.st_size


def _check_duration(path: Path | str, duration_s: float, limits: MediaLimits) -> None:
    if not math.isfinite(duration_s) or duration_s > limits.max_duration_s:
        raise DataError(
            f"{path}: {duration_s:.1f} s long, over the limit of {limits.max_duration_s:g} s (media.max_duration_s)"
        )


def _check_resolution(path: Path | str, width: int, height: int, limits: MediaLimits) -> None:
    if width > limits.max_width or height > limits.max_height:
        raise DataError(
            f"{path}: {width}x{height} video, over the limit of {limits.max_width}x{limits.max_height} "
            "(media.max_width, media.max_height)"
        )
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: video stream without a frame size ({width}x{height})")


class _Deadline:
    """Raises once ``limits.decode_timeout_s`` has passed since it was made (checked between frames)."""

    def __init__(self, path: Path | str, limits: MediaLimits) -> None:
        self.path = path
        self.seconds = limits.decode_timeout_s
        self.end = time.monotonic() + limits.decode_timeout_s

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise self.error()

    def error(self) -> DataError:
        return DataError(f"{self.path}: decoding took longer than {self.seconds:g} s (media.decode_timeout_s)")


def _timed_out(exc: Exception) -> bool:
    """Whether FFmpeg gave up because the ``av.open`` timeout (the decode limit) interrupted it."""
    import av

    return isinstance(exc, av.error.ExitError)


def decode_deadline(path: Path | str, limits: MediaLimits = DEFAULT_LIMITS) -> _Deadline:
    """A clock for one file's decode: ``.check()`` between frames raises once ``decode_timeout_s`` has passed."""
    return _Deadline(path, limits)


def check_video_header(path: Path | str, stream, header_duration_s: float | None, limits: MediaLimits) -> None:
    """Refuse a video stream whose frame size or header duration is past ``limits``."""
    _check_resolution(path, stream.codec_context.width, stream.codec_context.height, limits)
    if header_duration_s is not None:
        _check_duration(path, header_duration_s, limits)


def _open_av(path: Path | str, limits: MediaLimits):
    """``av.open`` for reading, with FFmpeg's own I/O timeout set to the decode limit."""
    import av

    return av.open(str(path), timeout=limits.decode_timeout_s)


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


def probe_audio(path: Path | str, *, limits: MediaLimits = DEFAULT_LIMITS) -> AudioInfo:
    """Read an audio file's header; a file past ``limits`` (size, duration) is refused."""
    check_media_file(path, limits=limits)
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise DataError(f"{path}: not a readable audio file ({_short(exc)})") from None
    result = AudioInfo(info.samplerate, info.channels, info.frames, info.subtype)
    if result.sample_rate <= 0 or result.channels <= 0:
        raise DataError(f"{path}: audio header without a sample rate or channels")
    _check_duration(path, result.duration_s, limits)
    return result


def read_audio(path: Path | str, *, limits: MediaLimits = DEFAULT_LIMITS) -> tuple[np.ndarray, int]:
    """Read a whole audio file as float32 ``(n_samples, n_channels)`` and its sample rate.

    The header is checked against ``limits`` first, so a header that claims hours is never read.
    """
    probe_audio(path, limits=limits)
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


def probe_video(path: Path | str, *, limits: MediaLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Read a video container's header (no decoding); a file past ``limits`` is refused."""
    check_media_file(path, limits=limits)
    try:
        with _open_av(path, limits) as container:
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
            info = VideoInfo(
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
        if _timed_out(exc):
            raise _Deadline(path, limits).error() from None
        raise DataError(f"{path}: not a readable video file ({_short(exc)})") from None
    _check_resolution(path, info.width, info.height, limits)
    _check_duration(path, info.duration_s, limits)
    return info


def _to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """One decoded frame as uint8 RGB ``(height, width, 3)``, resized to ``size = (width, height)``."""
    if size is not None:
        return frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
    return frame.to_ndarray(format="rgb24")


def decode_frames(
    path: Path | str,
    *,
    fps: float,
    size: tuple[int, int] | None = None,
    duration_s: float | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Decode frames at ``fps``, time-aligned with the audio seconds.

    Frame ``k`` is the last decoded frame whose timestamp is at or before ``k / fps``, so
    seconds of audio and groups of ``fps`` frames line up. ``limits`` are checked before decoding
    (file size, frame size, duration) and while decoding (every frame's size, the decode time).

    Returns
    -------
    frames : np.ndarray, shape (n_frames, height, width, 3), dtype uint8
        ``n_frames = round(duration_s * fps)``; ``size`` is ``(width, height)`` of the output.
    """
    check_media_file(path, limits=limits)
    deadline = _Deadline(path, limits)
    try:
        with _open_av(path, limits) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream")
            stream = container.streams.video[0]
            _check_resolution(path, stream.codec_context.width, stream.codec_context.height, limits)
            stream.thread_type = "AUTO"
            header_s = None
            if stream.duration and stream.time_base is not None:
                header_s = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                header_s = container.duration / 1e6
            if header_s is not None:
                _check_duration(path, header_s, limits)
            if duration_s is None:
                if header_s is None:
                    raise DataError(f"{path}: video without a duration")
                duration_s = header_s
            _check_duration(path, duration_s, limits)
            n_out = round(duration_s * fps)
            targets = [k / fps for k in range(n_out)]
            out: list[np.ndarray] = []
            last = None  # the latest decoded frame, converted only if a target time picks it
            t_idx = 0
            for frame in container.decode(stream):
                deadline.check()
                _check_resolution(path, frame.width, frame.height, limits)
                t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                if last is not None and t_idx < n_out and t > targets[t_idx] + 1e-6:
                    image = _to_rgb(last, size)
                    while t_idx < n_out and t > targets[t_idx] + 1e-6:
                        out.append(image)
                        t_idx += 1
                if t_idx >= n_out:
                    break
                last = frame
            if t_idx < n_out and last is not None:
                image = _to_rgb(last, size)
                out.extend([image] * (n_out - t_idx))
    except DataError:
        raise
    except Exception as exc:
        if _timed_out(exc):
            raise deadline.error() from None
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


def read_mp4_audio(
    path: Path | str, *, max_seconds: float | None = None, limits: MediaLimits = DEFAULT_LIMITS
) -> tuple[np.ndarray, int]:
    """Decode the audio track of a video file as float32 ``(n_samples, n_channels)`` in [-1, 1].

    Decoding stops at the video stream's duration plus ``AUDIO_MARGIN_S`` (a track far longer than
    its video is never read whole), at ``max_seconds`` when given and at ``limits.max_duration_s``
    (past which the file is refused); the decode time is bounded by ``limits``. Integer samples (``u8``,
    ``s16``, ``s32``, ``s64``, packed or planar) are scaled by ``2 ** (bits - 1)``.

    Returns
    -------
    audio : np.ndarray, shape (n_samples, n_channels), dtype float32
    sample_rate : int
    """
    check_media_file(path, limits=limits)
    deadline = _Deadline(path, limits)
    try:
        with _open_av(path, limits) as container:
            if not container.streams.audio:
                raise DataError(f"{path}: the video has no audio track")
            stream = container.streams.audio[0]
            sr = int(stream.codec_context.sample_rate or stream.rate or 0)
            if not 0 < sr <= MAX_SAMPLE_RATE:
                raise DataError(f"{path}: audio track with an invalid sample rate ({sr} Hz)")
            limit_s = _audio_limit_s(container, max_seconds)
            limit = None if limit_s is None else max(0, math.ceil(limit_s * sr))
            refuse_at = math.ceil((limits.max_duration_s + AUDIO_MARGIN_S) * sr)
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                deadline.check()
                if limit is not None and total >= limit:
                    break
                if total > refuse_at:
                    _check_duration(path, total / sr, limits)
                chunk = _frame_samples(frame)
                chunks.append(chunk)
                total += chunk.shape[0]
    except DataError:
        raise
    except Exception as exc:
        if _timed_out(exc):
            raise deadline.error() from None
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
