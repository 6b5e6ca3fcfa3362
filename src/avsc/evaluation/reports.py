"""Output files of an evaluation: predictions (challenge format), metrics.json, DVC plot CSVs.

Every writer goes through :func:`avsc.data.media.atomic_path` / ``atomic_write_text``: the file is
written under a temporary name in the destination folder and renamed, so a crash never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avsc.data.tau import CLASSES
from avsc.io import atomic_write_text

LOG = logging.getLogger(__name__)

#: Column order of the predictions file: the challenge format plus the 1-s segment index.
PREDICTION_COLUMNS: tuple[str, ...] = ("filename", "segment", "scene_label", *CLASSES)
#: Float format of probabilities in the predictions file (relative precision, so tiny
#: probabilities survive a round trip and the log-loss recomputed from the file is unchanged
#: to ~1e-8).
PROBA_FORMAT = "%.8g"


def predictions_frame(filenames: Sequence[str], segments: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Segment-level predictions in the challenge output format.

    Parameters
    ----------
    filenames : sequence of str, length n
        Source clip of each 1-s segment, e.g. ``audio/airport-lisbon-1-0.wav``.
    segments : np.ndarray, shape (n,)
        Index of the 1-s segment within its clip (``0..9`` for 10-s clips).
    proba : np.ndarray, shape (n, 10)
        Class probabilities in the official class order.

    Returns
    -------
    pd.DataFrame, shape (n, 13)
        Columns ``filename``, ``segment``, ``scene_label`` (argmax class name), then the 10 class
        names in the official order.
    """
    filenames = [str(f) for f in filenames]
    segments = np.asarray(segments).astype(np.int64).reshape(-1)
    proba = np.asarray(proba, dtype=np.float64)
    n = len(filenames)
    if proba.ndim != 2 or proba.shape[1] != len(CLASSES):
        raise ValueError(f"proba must have shape (n, {len(CLASSES)}), got {proba.shape}")
    if proba.shape[0] != n or segments.shape[0] != n:
        raise ValueError(f"lengths differ: {n} filenames, {segments.shape[0]} segments, {proba.shape[0]} rows")
    labels = [CLASSES[i] for i in proba.argmax(axis=1)] if n else []
    frame = pd.DataFrame({"filename": filenames, "segment": segments, "scene_label": labels})
    for c, name in enumerate(CLASSES):
        frame[name] = proba[:, c]
    return frame[list(PREDICTION_COLUMNS)]


def write_predictions(path: Path | str, frame: pd.DataFrame) -> Path:
    """Write a predictions frame tab-separated with a header row (atomic).

    Parameters
    ----------
    path : Path or str
        Destination (e.g. ``outputs/predictions.tsv``).
    frame : pd.DataFrame, shape (n, 13)
        As returned by :func:`predictions_frame`.

    Returns
    -------
    Path
        ``path``.
    """
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"predictions frame lacks columns {missing}")
    buf = io.StringIO()
    frame[list(PREDICTION_COLUMNS)].to_csv(buf, sep="\t", index=False, float_format=PROBA_FORMAT, lineterminator="\n")
    atomic_write_text(path, buf.getvalue())
    LOG.info("wrote %d predictions to %s", len(frame), path)
    return Path(path)


def _jsonable(value: Any) -> Any:
    """Recursively convert numpy scalars/arrays to Python and NaN/inf to ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _head_block(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "confusion"}


def metrics_document(
    *, heads: Mapping[str, Mapping[str, Any]], final_head: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the metrics.json document (pure).

    Parameters
    ----------
    heads : mapping of str to dict
        Head name (``audio``, ``visual``, ``early``, ``late``) to :func:`dcase_metrics` output.
    final_head : str
        The head whose numbers are reported at top level.
    extra : mapping, optional
        Additional top-level keys (e.g. ``{"data": "synthetic", "final_head": "late"}``); must not
        clash with ``accuracy``, ``logloss``, ``per_class`` or ``heads``.

    Returns
    -------
    dict
        JSON-ready: ``accuracy``, ``logloss`` (fractions / nats of the final head), ``per_class``
        of the final head, ``heads`` (every head without its confusion matrix), then ``extra``.
        NaN becomes ``None``.
    """
    if final_head not in heads:
        raise ValueError(f"final head {final_head!r} is not among the heads {sorted(heads)}")
    final = heads[final_head]
    doc: dict[str, Any] = {
        "accuracy": final.get("accuracy"),
        "logloss": final.get("logloss"),
        "per_class": final.get("per_class", {}),
        "heads": {name: _head_block(m) for name, m in heads.items()},
    }
    for key, value in (extra or {}).items():
        if key in doc:
            raise ValueError(f"extra key {key!r} clashes with a metrics key")
        doc[key] = value
    return _jsonable(doc)


def write_metrics_json(
    path: Path | str,
    *,
    heads: Mapping[str, Mapping[str, Any]],
    final_head: str,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write metrics.json (atomic, indent 2, no NaN: ``null`` instead).

    Parameters
    ----------
    path : Path or str
        Destination.
    heads, final_head, extra
        See :func:`metrics_document`.

    Returns
    -------
    Path
        ``path``.
    """
    doc = metrics_document(heads=heads, final_head=final_head, extra=extra)
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    LOG.info("wrote metrics of heads %s (final %s) to %s", ", ".join(heads), final_head, path)
    return Path(path)


def _per_class(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept either a :func:`dcase_metrics` dict or its ``per_class`` block."""
    return metrics.get("per_class", metrics)


def per_class_frame(heads: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Long table of class-wise accuracy per head (pure).

    Parameters
    ----------
    heads : mapping of str to dict
        Head name to :func:`dcase_metrics` output (or its ``per_class`` block).

    Returns
    -------
    pd.DataFrame, shape (10 * n_heads, 3)
        Columns ``class``, ``head``, ``accuracy`` (fraction; empty for an absent class).
    """
    rows = []
    for head, metrics in heads.items():
        per_class = _per_class(metrics)
        for name in CLASSES:
            acc = per_class.get(name, {}).get("accuracy")
            rows.append({"class": name, "head": head, "accuracy": acc})
    return pd.DataFrame(rows, columns=["class", "head", "accuracy"])


def write_per_class_csv(path: Path | str, heads: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write the class-wise accuracy of each head as a long CSV for a DVC bar plot (atomic).

    Columns ``class,head,accuracy``; accuracy as a fraction in [0, 1].
    """
    text = per_class_frame(heads).to_csv(index=False, float_format="%.6f", lineterminator="\n")
    atomic_write_text(path, text)
    return Path(path)


def write_confusion_csv(path: Path | str, y_true_names: Sequence[str], y_pred_names: Sequence[str]) -> Path:
    """Write one row per segment with columns ``actual,predicted`` for DVC's confusion template.

    Parameters
    ----------
    path : Path or str
        Destination.
    y_true_names, y_pred_names : sequence of str, length n
        True and predicted class names.
    """
    if len(y_true_names) != len(y_pred_names):
        raise ValueError(f"{len(y_true_names)} true labels but {len(y_pred_names)} predictions")
    frame = pd.DataFrame({"actual": [str(x) for x in y_true_names], "predicted": [str(x) for x in y_pred_names]})
    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
    return Path(path)
