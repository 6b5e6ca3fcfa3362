"""``<Label>.output.csv``: the system output in the DCASE 2021 Task 1 format.

Tab-separated, header ``filename scene_label airport bus … tram`` (the official class order), one
row per clip: ``<n>.wav``, the argmax scene and the ten probabilities (floats that sum to 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avsc.data.tau import CLASSES
from avsc.errors import AvscError

COLUMNS: tuple[str, ...] = ("filename", "scene_label", *CLASSES)


def uniform() -> np.ndarray:
    """The uniform distribution over the ten scenes (the output of a clip that cannot be read)."""
    return np.full(len(CLASSES), 1.0 / len(CLASSES))


def output_frame(filenames: list[str], proba: np.ndarray) -> pd.DataFrame:
    """The output table: rows renormalised to sum to 1, ``scene_label`` the argmax."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(filenames), len(CLASSES)) or not np.isfinite(proba).all() or (proba < 0).any():
        raise AvscError(f"output: {proba.shape} probabilities for {len(filenames)} clips, or non-finite values")
    proba = proba / proba.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(proba, columns=list(CLASSES))
    frame.insert(0, "scene_label", [CLASSES[i] for i in proba.argmax(axis=1)])
    frame.insert(0, "filename", filenames)
    return frame[list(COLUMNS)]


def output_text(frame: pd.DataFrame) -> str:
    """The CSV text (tab-separated, ``\\n`` line ends, probabilities to 7 decimals)."""
    return frame.to_csv(sep="\t", index=False, float_format="%.7f", lineterminator="\n")


def check_output(frame: pd.DataFrame, *, expected: list[str]) -> None:
    """Refuse an output that has not exactly one row per expected clip, in order.

    Raises
    ------
    AvscError
        Rows are missing, duplicated or out of order (never written silently).
    """
    names = list(frame["filename"])
    if len(names) != len(expected) or names != expected:
        missing = sorted(set(expected) - set(names))[:5]
        raise AvscError(
            f"output: {len(names)} rows for {len(expected)} clips"
            + (f" (missing e.g. {', '.join(missing)})" if missing else " (duplicated or out of order)")
        )
