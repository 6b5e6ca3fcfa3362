"""Raw media → model inputs, the same way the feature stages compute them.

Used by the registered pyfunc model (and so by ``avsc predict`` and ``mlflow models serve``).
Every check on a user's file raises :class:`~avsc.errors.DataError` with the file named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsc.data.media import decode_frames, probe_audio, probe_video, read_audio, read_mp4_audio
from avsc.errors import DataError

EXPECTED_SR = 48000


@dataclass(frozen=True)
class ClipMedia:
    """A clip's audio ``(n_samples, 2)`` at 48 kHz, its video path and whole seconds available."""

    audio: np.ndarray
    sample_rate: int
    video: Path
    n_seconds: int


def _check_file(path: Path, kind: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {kind} file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    return path


def load_clip(*, audio: Path | str | None, video: Path | str | None) -> ClipMedia:
    """Read and check a clip: WAV (or the MP4's audio track), 48 kHz, stereo, at least 1 s, and its video."""
    if video is None:
        raise DataError("the fused model needs the video: give --video clip.mp4 (its audio track is used "
                        "when --audio is absent)")
    video = _check_file(Path(video), "video")
    vinfo = probe_video(video)
    if audio is not None:
        audio = _check_file(Path(audio), "audio")
        info = probe_audio(audio)
        if info.sample_rate != EXPECTED_SR:
            raise DataError(f"{audio}: sample rate {info.sample_rate} Hz, expected {EXPECTED_SR} Hz")
        if info.channels != 2:
            raise DataError(f"{audio}: {info.channels} channel(s), expected 2 (binaural stereo)")
        data, sr = read_audio(audio)
        source = audio
    else:
        data, sr = read_mp4_audio(video)
        source = video
        if sr != EXPECTED_SR:
            raise DataError(f"{video}: audio track at {sr} Hz, expected {EXPECTED_SR} Hz")
        if data.shape[1] != 2:
            raise DataError(f"{video}: audio track has {data.shape[1]} channel(s), expected 2")
    duration = data.shape[0] / sr
    n_seconds = int(min(duration, vinfo.duration_s + 0.05) + 1e-6)
    if n_seconds < 1:
        raise DataError(f"{source}: {min(duration, vinfo.duration_s):.2f} s of media, at least 1 s is needed")
    return ClipMedia(data[: n_seconds * sr], sr, video, n_seconds)


def clip_inputs(media: ClipMedia, *, audio_cfg: dict, visual_cfg: dict, mean: np.ndarray, std: np.ndarray,
                visual_mean: np.ndarray, visual_std: np.ndarray, backbone) -> dict[str, np.ndarray]:
    """Model inputs for every whole second of a clip.

    Returns
    -------
    dict with ``audio`` (n_seconds, n_bands, 50, 3) and ``visual`` (n_seconds, fps, 512).
    """
    from avsc.features.audio import clip_features
    from avsc.features.normalize import apply_stats
    from avsc.models.backbone import preprocess_frames

    feats = apply_stats(clip_features(media.audio, media.sample_rate, **audio_cfg), mean=mean, std=std)
    n = media.n_seconds
    fps = visual_cfg["fps"]
    frames = decode_frames(media.video, fps=fps, size=(visual_cfg["image_size"],) * 2, duration_s=float(n))
    emb = np.concatenate([backbone(preprocess_frames(frames[i:i + 50]), training=False).numpy()
                          for i in range(0, len(frames), 50)])
    n = min(n, feats.shape[1] // 50, emb.shape[0] // fps)
    audio = feats[:, : n * 50].reshape(feats.shape[0], n, 50, 3).transpose(1, 0, 2, 3)
    visual = ((emb[: n * fps] - visual_mean) / visual_std).reshape(n, fps, -1)
    return {"audio": np.ascontiguousarray(audio, dtype=np.float32), "visual": visual.astype(np.float32)}
