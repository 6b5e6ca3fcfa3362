"""The registered model's signature: what a client sends and gets back (shown on the model page and
checked by ``mlflow models serve``)."""

from __future__ import annotations

from avsc.data.tau import CLASSES


def model_signature():
    """Input: ``video`` (MP4 path) and optional ``audio`` (WAV path); output: one row per second and per clip."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", "video"), ColSpec("string", "audio", required=False)])
    outputs = Schema(
        [
            ColSpec("string", "clip"),
            ColSpec("long", "segment"),
            ColSpec("string", "scene_label"),
            *[ColSpec("double", c) for c in CLASSES],
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)
