"""The registered model: an MLflow pyfunc that takes raw media and returns scene probabilities.

Input: a DataFrame, one row per clip, with the video either as bytes (``video_b64``: the MP4,
base64-encoded, what a client of ``mlflow models serve`` on another machine sends) or as a path
(``video``), and optionally the audio the same way (``audio_b64`` / ``audio``: a WAV; when absent
the MP4's audio track is used); ``clip`` optionally names the clip in the output (default: the
video path, or ``clip-<row>`` for bytes). While served, paths must lie under an allowed root and
requests are limited: see :mod:`avsc.tracking.serving`. The system's front end runs first,
through :class:`avsc.inference.ModelBundle` (the feature stages' own functions, the stored
normalisation statistics and the very backbone weights used for the cached embeddings). Output:
one row per whole second (``segment`` 0, 1, …) and one row per clip (``segment = -1``, the mean
of its seconds), with ``scene_label`` and the 10 class probabilities of the system's final head.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from avsc.data.tau import CLASSES
from avsc.errors import AvscError

CLIP_ROW = -1
ARTIFACTS = ("config", "keras_model", "audio_stats", "visual_stats", "backbone")


class SceneModel(PythonModel):
    """A system's final model + its front end, as one pyfunc (any system)."""

    def load_context(self, context) -> None:
        from avsc.inference import ModelBundle

        self.bundle = ModelBundle.load(**{k: context.artifacts[k] for k in ARTIFACTS})

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from avsc.tracking.serving import is_serving, request_error

        if isinstance(model_input, dict):
            model_input = pd.DataFrame(model_input)
        serving = is_serving()
        try:
            return self._predict(model_input.to_dict(orient="records"), serving=serving)
        except AvscError as exc:
            if serving:  # a 400 answer with the one line, never a stack trace
                raise request_error(str(exc).strip().splitlines()[0]) from None
            raise

    def _predict(self, records: list[dict], *, serving: bool) -> pd.DataFrame:
        from avsc.tracking.serving import ServeLimits, check_clip_count

        limits = ServeLimits.from_env()
        if serving:
            check_clip_count(len(records), limits)
        media_limits = limits.media_limits() if serving else None
        rows = []
        with tempfile.TemporaryDirectory(prefix="avsc-clip-") as tmp:
            for i, record in enumerate(records):
                name, media = _clip_media(record, i, Path(tmp), limits=limits, serving=serving)
                kwargs = {"limits": media_limits} if media_limits is not None else {}
                proba = self.bundle.probabilities(self.bundle.clip_arrays(media, name=name, **kwargs))
                rows += [_row(name, s, p) for s, p in enumerate(proba)]
                rows.append(_row(name, CLIP_ROW, proba.mean(axis=0)))
        return pd.DataFrame(rows, columns=["clip", "segment", "scene_label", *CLASSES])


#: The class name registered models of earlier versions were pickled with.
FusedSceneModel = SceneModel


def _text(record: dict, key: str) -> str | None:
    """A string cell, or None for a missing, null, NaN or empty one."""
    value = record.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return str(value)


def _clip_media(record: dict, index: int, tmp: Path, *, limits, serving: bool):
    """``(name, ClipMedia)`` of one input row: media bytes written to ``tmp``, or checked paths."""
    from avsc.errors import DataError
    from avsc.inference import load_clip
    from avsc.tracking.serving import allowed_path, check_clip_bytes, decode_b64

    name = _text(record, "clip") or _text(record, "video") or f"clip-{index}"
    files: dict[str, str | None] = {}
    labels: dict[str, str] = {}
    total = 0
    for kind, suffix in (("video", ".mp4"), ("audio", ".wav")):
        encoded, path = _text(record, f"{kind}_b64"), _text(record, kind)
        if encoded is not None:
            label = f"{name}: {kind}_b64"
            data = decode_b64(encoded, field=label, limits=limits)
            target = tmp / f"{index}-{kind}{suffix}"
            target.write_bytes(data)
            files[kind], labels[str(target)] = str(target), label
            total += len(data)
        elif path is not None and serving:
            resolved = allowed_path(path, limits)
            files[kind], labels[str(resolved)] = str(resolved), path
            total += resolved.stat().st_size if resolved.is_file() else 0
        else:
            files[kind] = path
    check_clip_bytes(total, clip=name, limits=limits)
    kwargs = {"limits": limits.media_limits()} if serving else {}
    try:
        return name, load_clip(audio=files["audio"], video=files["video"], **kwargs)
    except DataError as exc:
        message = str(exc)
        for internal, label in labels.items():  # name what the client sent, not a server path
            message = message.replace(internal, label)
        raise DataError(message) from None


def _row(name: str, segment: int, proba: np.ndarray) -> dict:
    return {
        "clip": name,
        "segment": segment,
        "scene_label": CLASSES[int(np.argmax(proba))],
        **{c: float(v) for c, v in zip(CLASSES, proba, strict=True)},
    }
