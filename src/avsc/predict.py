"""``avsc predict``: classify a clip with a registered model of any system (default: the champion of
``model.system``'s registered model, ``models:/avsc-fused@champion`` for the SE-CRNN)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from avsc.data.tau import CLASSES
from avsc.errors import AvscError

log = logging.getLogger(__name__)


def load_model(uri: str):
    """Load a pyfunc model; a URI that does not resolve is a user error, not a traceback."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from avsc.tracking.service import configure

    configure()
    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AvscError(f"{uri}: model cannot be loaded ({first[:200]})") from None


def media_limits(params_path: Path | None = None):
    """The ``media`` limits of params.yaml (the defaults when there is no readable params file)."""
    from avsc.config.media import DEFAULT_LIMITS
    from avsc.config.settings import load_params

    try:
        return load_params(params_path).media
    except AvscError:
        return DEFAULT_LIMITS


def predict_clip(*, model_uri: str, audio: Path | None, video: Path | None, limits=None):
    """Per-second and whole-clip probabilities as a DataFrame (see :mod:`avsc.tracking.pyfunc_model`).

    The files are checked first, against ``limits`` (default: ``media`` in params.yaml).
    """
    import pandas as pd

    from avsc.inference import load_clip

    load_clip(audio=audio, video=video, limits=limits or media_limits())  # check before the (slow) model load
    model = load_model(model_uri)
    frame = pd.DataFrame([{"audio": str(audio) if audio else "", "video": str(video)}])
    return model.predict(frame)


def format_table(result) -> str:
    clip = result[result["segment"] == -1].iloc[0]
    lines = [f"{'second':>6}  {'top scene':<18}" + "".join(f"{c[:9]:>10}" for c in CLASSES)]
    for _, row in result[result["segment"] >= 0].iterrows():
        lines.append(
            f"{int(row['segment']):>6}  {row['scene_label']:<18}" + "".join(f"{row[c]:>10.3f}" for c in CLASSES)
        )
    lines.append(f"{'clip':>6}  {clip['scene_label']:<18}" + "".join(f"{clip[c]:>10.3f}" for c in CLASSES))
    lines.append(f"top scene: {clip['scene_label']} (p = {clip[clip['scene_label']]:.3f})")
    return "\n".join(lines)


def to_json(result) -> dict:
    clip = result[result["segment"] == -1].iloc[0]
    return {
        "top_scene": clip["scene_label"],
        "clip": {c: float(clip[c]) for c in CLASSES},
        "seconds": [
            {
                "second": int(r["segment"]),
                "top_scene": r["scene_label"],
                "probabilities": {c: float(r[c]) for c in CLASSES},
            }
            for _, r in result[result["segment"] >= 0].iterrows()
        ],
    }


def default_model_uri(params_path: Path | None = None) -> str:
    """``models:/<register.model_name.<model.system>>@<champion alias>`` from params.yaml."""
    from avsc.config.settings import load_params
    from avsc.tracking.registry import model_name

    try:
        params = load_params(params_path)
    except AvscError:
        return "models:/avsc-fused@champion"
    return f"models:/{model_name(params)}@{params.register_.champion_alias}"


def cli_predict(args) -> int:
    uri = args.model or default_model_uri(getattr(args, "params", None))
    limits = media_limits(getattr(args, "params", None))
    result = predict_clip(model_uri=uri, audio=args.audio, video=args.video, limits=limits)
    print(json.dumps(to_json(result), indent=1) if args.json else format_table(result))
    return 0
