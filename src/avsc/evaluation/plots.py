"""Evaluation figures (PNG): confusion matrix, class-wise accuracy per head, training curves.

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas, never through pyplot's
global state, so no display is needed and the process-wide backend is left alone. Each PNG is
saved under a temporary name and renamed (:func:`avsc.data.media.atomic_path`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

from avsc.data.tau import CLASSES
from avsc.heads import HEAD_NAMES
from avsc.io import atomic_path

LOG = logging.getLogger(__name__)


def _save(fig: Figure, path: Path | str) -> Path:
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    LOG.info("wrote %s", path)
    return Path(path)


def plot_confusion(path: Path | str, confusion: np.ndarray, *, title: str) -> Path:
    """Write :func:`confusion_figure` to ``path`` (PNG)."""
    return _save(confusion_figure(confusion, title=title), path)


def confusion_figure(confusion: np.ndarray, *, title: str) -> Figure:
    """Confusion matrix with class names on both axes, row-normalised colours, counts in cells.

    Parameters
    ----------
    confusion : np.ndarray, shape (10, 10)
        Counts, rows the true class, columns the predicted class.
    title : str
        Figure title.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.shape != (len(CLASSES), len(CLASSES)):
        raise ValueError(f"confusion must be {len(CLASSES)}x{len(CLASSES)}, got {cm.shape}")
    support = cm.sum(axis=1, keepdims=True)
    norm = cm / np.where(support > 0, support, 1)
    fig = Figure(figsize=(8.5, 7.5))
    ax = fig.add_subplot(1, 1, 1)
    display = ConfusionMatrixDisplay(confusion_matrix=norm, display_labels=list(CLASSES))
    display.plot(ax=ax, cmap="Blues", xticks_rotation=45, values_format=".2f", im_kw={"vmin": 0.0, "vmax": 1.0})
    display.im_.colorbar.set_label("fraction of the true class")
    for (i, j), text in np.ndenumerate(display.text_):  # colours by fraction, cells show counts
        text.set_text(str(cm[i, j]))
        text.set_fontsize(8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig


def plot_per_class_accuracy(path: Path | str, heads: Mapping[str, Mapping[str, Any]], *, title: str) -> Path:
    """Grouped bar chart of class-wise accuracy, the heads side by side per class.

    Parameters
    ----------
    path : Path or str
        Destination PNG.
    heads : mapping of str to dict
        Head name to a ``per_class`` dict ``{class: {"accuracy": fraction or None, ...}}`` (a whole
        :func:`avsc.evaluation.metrics.dcase_metrics` dict is accepted too).
    title : str
        Figure title.
    """
    if not heads:
        raise ValueError("no heads to plot")
    names = list(heads)
    n_heads = len(names)
    width = 0.8 / n_heads
    x = np.arange(len(CLASSES))
    fig = Figure(figsize=(11, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    for k, head in enumerate(names):
        per_class = heads[head].get("per_class", heads[head])
        values = [per_class.get(c, {}).get("accuracy") for c in CLASSES]
        pct = np.array([np.nan if v is None else 100.0 * float(v) for v in values])
        ax.bar(x - 0.4 + width * (k + 0.5), np.nan_to_num(pct), width, label=HEAD_NAMES.get(head, head))
    ax.set_xticks(x, labels=CLASSES, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(ncols=min(n_heads, 4), loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    ax.set_title(title)
    return _save(fig, path)


def _pick(history: Mapping[str, Sequence[float]], *keys: str) -> tuple[str, Sequence[float]] | None:
    for key in keys:
        if key in history and len(history[key]):
            return key, history[key]
    return None


def plot_training_curves(path: Path | str, history: Mapping[str, Sequence[float]], *, title: str) -> Path:
    """Loss and accuracy per epoch (train and validation), plus learning rate when present.

    Parameters
    ----------
    path : Path or str
        Destination PNG.
    history : mapping of str to list of float
        Keras-style history: ``loss``, ``val_loss``, ``accuracy`` (or ``acc``), ``val_accuracy``
        (or ``val_acc``), optionally ``lr`` / ``learning_rate``; each of length n_epochs.
    title : str
        Figure title.
    """
    lr = _pick(history, "learning_rate", "lr")
    panels = [("loss", ("loss",), ("val_loss",)), ("accuracy", ("accuracy", "acc"), ("val_accuracy", "val_acc"))]
    n = len(panels) + (1 if lr else 0)
    fig = Figure(figsize=(4.5 * n, 3.8))
    for k, (label, train_keys, val_keys) in enumerate(panels):
        ax = fig.add_subplot(1, n, k + 1)
        for keys, name in ((train_keys, "train"), (val_keys, "validation")):
            found = _pick(history, *keys)
            if found:
                ax.plot(np.arange(1, len(found[1]) + 1), found[1], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if lr:
        ax = fig.add_subplot(1, n, n)
        ax.plot(np.arange(1, len(lr[1]) + 1), lr[1], marker=".")
        if min(lr[1]) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("learning rate")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
