"""The registered model: an MLflow pyfunc that takes raw media and returns scene probabilities.

Input: a DataFrame with a ``video`` column (MP4 path) and an optional ``audio`` column (WAV path;
when absent or empty the MP4's audio track is used). The same feature extraction as the pipeline
runs first (stored normalisation statistics and the very backbone weights used for the cached
embeddings). Output: one row per whole second (``segment`` 0, 1, …) and one row per clip
(``segment = -1``, the mean of its seconds), with ``scene_label`` and the 10 class probabilities.
"""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd

from avsc.data.tau import CLASSES

CLIP_ROW = -1


class FusedSceneModel(mlflow.pyfunc.PythonModel):
    """SE-CRNN fused model + its front end, as one pyfunc."""

    def load_context(self, context) -> None:
        import keras

        import avsc.models.secrnn  # noqa: F401
        from avsc.features.normalize import load_stats
        from avsc.models.backbone import build_visual_backbone

        self.config = json.loads(open(context.artifacts["config"]).read())
        self.model = keras.saving.load_model(context.artifacts["keras_model"], safe_mode=True)
        self.mean, self.std = load_stats(context.artifacts["audio_stats"])
        self.visual_mean, self.visual_std = load_stats(context.artifacts["visual_stats"])
        self.backbone, _ = build_visual_backbone(image_size=self.config["visual"]["image_size"], weights_path=None,
                                                 quiet=True)
        self.backbone.load_weights(context.artifacts["backbone"])
        self.head = self.config.get("final_head", "late")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from avsc.inference import clip_inputs, load_clip

        if isinstance(model_input, dict):
            model_input = pd.DataFrame(model_input)
        rows = []
        for record in model_input.to_dict(orient="records"):
            audio = record.get("audio") or None
            media = load_clip(audio=audio, video=record.get("video"))
            inputs = clip_inputs(media, audio_cfg=self.config["audio"], visual_cfg=self.config["visual"],
                                 mean=self.mean, std=self.std, visual_mean=self.visual_mean,
                                 visual_std=self.visual_std, backbone=self.backbone)
            proba = np.asarray(self.model.predict(inputs, verbose=0)[self.head], dtype=np.float64)
            name = str(record.get("video"))
            for i, p in enumerate(proba):
                rows.append(_row(name, i, p))
            rows.append(_row(name, CLIP_ROW, proba.mean(axis=0)))
        return pd.DataFrame(rows, columns=["clip", "segment", "scene_label", *CLASSES])


def _row(name: str, segment: int, proba: np.ndarray) -> dict:
    return {"clip": name, "segment": segment, "scene_label": CLASSES[int(np.argmax(proba))],
            **{c: float(v) for c, v in zip(CLASSES, proba)}}
