"""The registered model's signature: what a client sends and gets back (shown on the model page and
checked by ``mlflow models serve``), and a small input example of media bytes."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import numpy as np

from avsc.data.tau import CLASSES

#: The input columns, all optional strings: each row needs ``video_b64`` or ``video``.
INPUT_COLUMNS = ("video_b64", "audio_b64", "video", "audio", "clip")


def model_signature():
    """Input: the clip's MP4 (``video_b64`` base64 bytes or ``video`` path), optional WAV (``audio_b64`` /
    ``audio``) and name (``clip``); output: one row per second and per clip."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", name, required=False) for name in INPUT_COLUMNS])
    outputs = Schema(
        [
            ColSpec("string", "clip"),
            ColSpec("long", "segment"),
            ColSpec("string", "scene_label"),
            *[ColSpec("double", c) for c in CLASSES],
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def example_clip_mp4(path: Path, *, seconds: int = 2, fps: int = 2, size: int = 32, seed: int = 0) -> Path:
    """A tiny MP4 (noise frames, quiet stereo 48 kHz AAC track): the registered model's input example."""
    from avsc.data.media import write_mp4

    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(seconds * fps, size, size, 3), dtype=np.uint8)
    audio = 0.05 * rng.standard_normal((seconds * 48000, 2))
    write_mp4(path, frames, fps=fps, audio=audio, sample_rate=48000)
    return path


def input_example():
    """One row: a 2-s 32x32 MP4 with its audio track, as base64 bytes (a few tens of kB)."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        data = example_clip_mp4(Path(tmp) / "example.mp4").read_bytes()
    return pd.DataFrame([{"video_b64": base64.b64encode(data).decode("ascii"), "clip": "example"}])
