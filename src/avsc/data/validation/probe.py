"""Media probing for validation, read-only: header facts, a full read of every WAV, a full decode of every MP4.

Only paths that :func:`avsc.data.paths.media_problem` accepted (regular files inside the root)
are handed to these functions.
"""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import soundfile as sf

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.data.media import check_media_file, check_video_header, decode_deadline
from avsc.entry import first_line
from avsc.errors import DataError


def wav_declared(path: Path) -> tuple[int, int] | None:
    """``(declared data bytes, bytes actually present)`` from a WAV's RIFF chunks, or None."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            cid, csize = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):  # streamed / unknown length
                    return None
                return csize, size - (pos + 8)
            pos += 8 + csize + (csize & 1)
    return None


def _rule(exc: DataError, path: Path) -> str:
    """A limit's message without the file name (the row names the file)."""
    return str(exc).removeprefix(f"{path}: ")


def probe_audio_row(path: Path, *, limits: MediaLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Header facts and a full read of one audio file (none past ``limits``: size, duration)."""
    out: dict[str, Any] = {
        "audio_sample_rate": None,
        "audio_channels": None,
        "audio_duration": None,
        "audio_readable_to_end": False,
        "audio_error": None,
    }
    try:
        check_media_file(path, limits=limits)
    except DataError as exc:
        out["audio_error"] = _rule(exc, path)
        return out
    try:
        info = sf.info(str(path))
    except Exception as exc:
        out["audio_error"] = f"not a readable audio file: {first_line(exc, limit=120)}"
        return out
    out["audio_sample_rate"] = int(info.samplerate)
    out["audio_channels"] = int(info.channels)
    out["audio_duration"] = info.frames / info.samplerate if info.samplerate else 0.0
    if out["audio_duration"] > limits.max_duration_s:
        out["audio_error"] = (
            f"{out['audio_duration']:.1f} s long, over the limit of {limits.max_duration_s:g} s (media.max_duration_s)"
        )
        return out
    try:
        declared = wav_declared(path) if info.format == "WAV" else None
        if declared is not None and declared[0] > declared[1]:
            out["audio_error"] = f"header declares {declared[0]} data bytes, only {declared[1]} present"
            return out
        frames = 0
        with sf.SoundFile(str(path), mode="r") as fh:
            for block in fh.blocks(blocksize=1 << 18, dtype="float32", always_2d=True):
                frames += len(block)
        if frames != info.frames:
            out["audio_error"] = f"header declares {info.frames} frames, {frames} readable"
            return out
        if declared is not None:
            block_align = info.channels * {
                "PCM_16": 2,
                "PCM_24": 3,
                "PCM_32": 4,
                "FLOAT": 4,
                "DOUBLE": 8,
                "PCM_U8": 1,
            }.get(info.subtype, 0)
            if block_align and declared[0] != info.frames * block_align:
                out["audio_error"] = f"header declares {declared[0]} data bytes, {info.frames * block_align} read"
                return out
    except Exception as exc:
        out["audio_error"] = f"read failed: {str(exc).strip()[:120] or type(exc).__name__}"
        return out
    out["audio_readable_to_end"] = True
    return out


def probe_video_row(path: Path, *, limits: MediaLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Decode every frame of the first video stream; duration from the last frame's end.

    A file past ``limits`` (size, frame size, header duration) is reported without decoding it;
    a decode past ``limits.decode_timeout_s`` stops and is reported.
    """
    import av

    out: dict[str, Any] = {
        "video_decodable": False,
        "video_duration": None,
        "video_fps": None,
        "video_frames": None,
        "video_error": None,
    }
    try:
        check_media_file(path, limits=limits)
        deadline = decode_deadline(path, limits)
    except DataError as exc:
        out["video_error"] = _rule(exc, path)
        return out
    try:
        with av.open(str(path), mode="r", timeout=limits.decode_timeout_s) as container:
            if not container.streams.video:
                out["video_error"] = "no video stream"
                return out
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 0) or None
            header = None
            if stream.duration is not None and stream.time_base is not None:
                header = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                header = container.duration / 1_000_000
            check_video_header(path, stream, header, limits)
            n = 0
            first = last = None
            for frame in container.decode(stream):
                deadline.check()
                n += 1
                if frame.pts is not None and stream.time_base is not None:
                    t = float(frame.pts * stream.time_base)
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
    except DataError as exc:
        out["video_error"] = _rule(exc, path)
        return out
    except Exception as exc:
        if isinstance(exc, av.error.ExitError):
            out["video_error"] = _rule(deadline.error(), path)
            return out
        text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        out["video_error"] = f"cannot be decoded: {text}"
        return out
    if n == 0:
        out["video_error"] = "no decodable frames"
        return out
    out["video_frames"] = n
    out["video_fps"] = fps
    if last is not None and fps:
        out["video_duration"] = last - (first or 0.0) + 1.0 / fps
    else:
        out["video_duration"] = header
    out["video_decodable"] = True
    return out


def probe_all(
    root: Path, audio: list[str], video: list[str], *, workers: int, limits: MediaLimits = DEFAULT_LIMITS
) -> tuple[dict, dict]:
    """Probe each named audio and video file once, in `workers` threads: `({name: facts}, {name: facts})`."""
    from tqdm.auto import tqdm

    jobs = [("a", n) for n in audio] + [("v", n) for n in video]
    results_a: dict[str, dict] = {}
    results_v: dict[str, dict] = {}

    def run(job):
        kind, name = job
        path = root / PurePosixPath(name)
        return (
            kind,
            name,
            (probe_audio_row(path, limits=limits) if kind == "a" else probe_video_row(path, limits=limits)),
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for kind, name, res in tqdm(
            pool.map(run, jobs), total=len(jobs), desc="probing media", unit="file", disable=None, leave=False
        ):
            (results_a if kind == "a" else results_v)[name] = res
    return results_a, results_v
