"""DCASE 2021 Task 1B metrics: class-wise (macro) log-loss and accuracy on 1-s segments.

The challenge ranks systems by the macro-average multi-class cross-entropy: for each class ``c``
the log-loss over the segments whose true class is ``c``, then the unweighted mean over the 10
classes. The baseline computes each class's term with
``sklearn.metrics.log_loss(y_true[y_true == c], proba[y_true == c], labels=range(10))``; this module
does exactly that. Accuracy is macro-averaged the same way (row-normalised confusion-matrix
diagonal).

Notes on probability clipping (the installed scikit-learn, >= 1.5, here 1.9):

* ``log_loss`` clips probabilities to ``[eps, 1 - eps]`` with ``eps = np.finfo(dtype).eps`` of the
  *input* dtype (2.22e-16 for float64, 1.19e-7 for float32). Older releases (the 2021 baseline ran
  on scikit-learn 0.2x) used a fixed ``eps=1e-15`` and renormalised rows after clipping. The
  largest per-segment loss is therefore ``-log(2.22e-16) = 36.04`` here versus
  ``-log(1e-15) = 34.54`` in 2021; the two only differ for predictions that give the true class
  a probability below 1e-15.
* To make the result independent of the caller's dtype, probabilities are cast to float64.
* Newer scikit-learn warns (``UserWarning``) when rows do not sum to 1 (tolerance ``sqrt(eps)``);
  rows are renormalised to sum 1 first, which silences the warning and matches what the old
  baseline did implicitly.

Classes with no segment in ``y_true`` get ``NaN`` in the class-wise arrays, and the macro means use
``np.nanmean`` (they ignore such classes). With the official evaluate fold every class is present,
so this only matters on small or synthetic samples.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, recall_score

from avsc.data.tau import CLASSES

LOG = logging.getLogger(__name__)

N_CLASSES = len(CLASSES)


def _check_labels(y: np.ndarray, *, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"{name} holds class indices outside 0..{N_CLASSES - 1}")
    return y


def normalise_rows(*, proba: np.ndarray) -> np.ndarray:
    """Cast probabilities to float64 and rescale each row to sum 1.

    Parameters
    ----------
    proba : np.ndarray, shape (n, 10)
        Non-negative scores or probabilities.

    Returns
    -------
    np.ndarray, shape (n, 10), float64
        Rows summing to 1 (a row of zeros becomes uniform).
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise ValueError(f"proba must have shape (n, {N_CLASSES}), got {proba.shape}")
    if proba.size and (np.min(proba) < 0 or not np.all(np.isfinite(proba))):
        raise ValueError("proba must be finite and non-negative")
    sums = proba.sum(axis=1, keepdims=True)
    out = np.where(sums > 0, proba / np.where(sums > 0, sums, 1.0), 1.0 / N_CLASSES)
    return out


def classwise_logloss(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Log-loss of each class's segments, as the DCASE 2021 Task 1B baseline computes it.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
        True class indices in ``0..9`` (official class order).
    proba : np.ndarray, shape (n, 10)
        Predicted probabilities (rows are renormalised to sum 1, cast to float64).

    Returns
    -------
    np.ndarray, shape (10,), float64
        ``log_loss(y_true[y_true == c], proba[y_true == c], labels=range(10))`` for each class
        ``c``; ``NaN`` for a class with no segment.
    """
    y_true = _check_labels(y_true, name="y_true")
    proba = normalise_rows(proba=proba)
    if proba.shape[0] != y_true.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} rows, proba {proba.shape[0]}")
    out = np.full(N_CLASSES, np.nan)
    for c in range(N_CLASSES):
        mask = y_true == c
        if mask.any():
            out[c] = log_loss(y_true[mask], proba[mask], labels=list(range(N_CLASSES)))
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Confusion matrix, rows the true class, columns the predicted class.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n,)
        Class indices in ``0..9``.

    Returns
    -------
    np.ndarray, shape (10, 10), int64
        ``out[i, j]`` = number of segments of true class ``i`` predicted as ``j``.
    """
    y_true = _check_labels(y_true, name="y_true")
    y_pred = _check_labels(y_pred, name="y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    return confusion_matrix(y_true, y_pred, labels=list(range(N_CLASSES))).astype(np.int64)


def classwise_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Accuracy of each class: the diagonal of the row-normalised confusion matrix.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n,)
        Class indices in ``0..9``.

    Returns
    -------
    np.ndarray, shape (10,), float64
        Fractions in ``[0, 1]``; ``NaN`` for a class with no segment.
    """
    y_true = _check_labels(y_true, name="y_true")
    y_pred = _check_labels(y_pred, name="y_pred")
    labels = list(range(N_CLASSES))
    # per-class recall is exactly the diagonal of the row-normalised confusion matrix; NaN without support
    return recall_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan).astype(np.float64)


def _nanmean(values: np.ndarray) -> float | None:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else None


def dcase_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """All challenge metrics of one head's segment-level predictions.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
        True class indices in ``0..9``.
    proba : np.ndarray, shape (n, 10)
        Predicted probabilities.

    Returns
    -------
    dict
        ``logloss`` (macro mean of class-wise log-loss, NaN classes ignored), ``accuracy`` (macro
        mean of class-wise accuracy, fraction), ``overall_logloss`` and ``overall_accuracy``
        (micro, over all segments), ``n`` (segments), ``per_class``
        ``{class: {"logloss", "accuracy", "n"}}`` (``None`` for an absent class) and
        ``confusion`` (10 x 10 list of lists of int). Values are plain Python floats/ints.
    """
    y_true = _check_labels(y_true, name="y_true")
    p = normalise_rows(proba=proba)
    if p.shape[0] != y_true.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} rows, proba {p.shape[0]}")
    y_pred = p.argmax(axis=1) if p.shape[0] else np.zeros(0, dtype=np.int64)
    ll = classwise_logloss(y_true, p)
    acc = classwise_accuracy(y_true, y_pred)
    cm = confusion(y_true, y_pred)
    support = cm.sum(axis=1)
    n = int(y_true.shape[0])
    if n:
        overall_ll = float(log_loss(y_true, p, labels=list(range(N_CLASSES))))
        overall_acc = float(np.mean(y_pred == y_true))
    else:
        overall_ll, overall_acc = None, None
    missing = [CLASSES[c] for c in range(N_CLASSES) if support[c] == 0]
    if missing:
        LOG.warning("no segments of class(es) %s: ignored by the macro averages", ", ".join(missing))
    per_class = {
        name: {
            "logloss": None if np.isnan(ll[c]) else float(ll[c]),
            "accuracy": None if np.isnan(acc[c]) else float(acc[c]),
            "n": int(support[c]),
        }
        for c, name in enumerate(CLASSES)
    }
    return {
        "logloss": _nanmean(ll),
        "accuracy": _nanmean(acc),
        "overall_logloss": overall_ll,
        "overall_accuracy": overall_acc,
        "n": n,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
