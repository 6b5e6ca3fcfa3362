"""The registered model: an MLflow pyfunc that takes raw media and returns scene probabilities.

Input: a DataFrame with a ``video`` column (MP4 path) and an optional ``audio`` column (WAV path;
when absent or empty the MP4's audio track is used). The system's front end runs first, through
:class:`avsc.inference.ModelBundle` (the feature stages' own functions, the stored normalisation
statistics and the very backbone weights used for the cached embeddings). Output: one row per
whole second (``segment`` 0, 1, …) and one row per clip (``segment = -1``, the mean of its
seconds), with ``scene_label`` and the 10 class probabilities of the system's final head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from avsc.data.tau import CLASSES

CLIP_ROW = -1
ARTIFACTS = ("config", "keras_model", "audio_stats", "visual_stats", "backbone")


class SceneModel(PythonModel):
    """A system's final model + its front end, as one pyfunc (any system)."""

    def load_context(self, context) -> None:
        from avsc.inference import ModelBundle

        self.bundle = ModelBundle.load(**{k: context.artifacts[k] for k in ARTIFACTS})

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from avsc.inference import load_clip

        if isinstance(model_input, dict):
            model_input = pd.DataFrame(model_input)
        rows = []
        for record in model_input.to_dict(orient="records"):
            audio = record.get("audio") or None
            name = str(record.get("video"))
            media = load_clip(audio=audio, video=record.get("video"))
            proba = self.bundle.probabilities(self.bundle.clip_arrays(media, name=name))
            rows += [_row(name, i, p) for i, p in enumerate(proba)]
            rows.append(_row(name, CLIP_ROW, proba.mean(axis=0)))
        return pd.DataFrame(rows, columns=["clip", "segment", "scene_label", *CLASSES])


#: The class name registered models of earlier versions were pickled with.
FusedSceneModel = SceneModel


def _row(name: str, segment: int, proba: np.ndarray) -> dict:
    return {
        "clip": name,
        "segment": segment,
        "scene_label": CLASSES[int(np.argmax(proba))],
        **{c: float(v) for c, v in zip(CLASSES, proba, strict=True)},
    }
