"""The index files of a TAU-layout dataset read into one frame, one row per index line.

``meta.csv`` and ``evaluation_setup/fold1_{train,evaluate,test}.csv`` are read as text (nothing
they name is opened here); a missing or malformed index file is a :class:`Problem`, not an error,
so the report lists it with everything else.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from avsc.data.tau import CLIP_NAME, FOLD_COLUMNS, META_COLUMNS, TEST_COLUMNS
from avsc.data.validation.report import Problem

#: Index files: (path inside root, required columns, split name, required file).
INDEX_FILES: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    ("meta.csv", META_COLUMNS, "meta", True),
    ("evaluation_setup/fold1_train.csv", FOLD_COLUMNS, "train", True),
    ("evaluation_setup/fold1_evaluate.csv", FOLD_COLUMNS, "evaluate", True),
    ("evaluation_setup/fold1_test.csv", TEST_COLUMNS, "test", False),
)
_STEM = r"[a-z_]+-[a-z]+-\d+-\d+"  # tau.CLIP_NAME without its named groups
AUDIO_NAME_REGEX = rf"^audio/{_STEM}\.wav$"
VIDEO_NAME_REGEX = rf"^video/{_STEM}\.mp4$"
#: Column that identifies a row in reports: ``<index file>:<line>``.
KEY = "row_key"


def read_index(root: Path, problems: list[Problem]) -> pd.DataFrame:
    """One row per line of every index file, with the columns every row shares."""
    rows: list[dict[str, Any]] = []
    for rel, required, split, must_exist in INDEX_FILES:
        path = root / rel
        if not path.is_file():
            if must_exist:
                problems.append(Problem(rel, "index file must exist", "missing"))
            continue
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas raises several parser errors
            problems.append(Problem(rel, "index file must be tab-separated text", str(exc).splitlines()[0][:160]))
            continue
        missing = [c for c in required if c not in frame.columns]
        if missing:
            problems.append(
                Problem(
                    rel,
                    "required columns",
                    f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns)) or 'none'}",
                )
            )
        for i, record in enumerate(frame.to_dict("records")):
            rows.append(
                {
                    KEY: f"{rel}:{i + 2}",
                    "source": rel,
                    "split": split,
                    "filename_audio": record.get("filename_audio"),
                    "filename_video": record.get("filename_video"),
                    "scene_label": record.get("scene_label") if split != "test" else None,
                    "identifier": record.get("identifier") if split == "meta" else None,
                }
            )
    columns = [KEY, "source", "split", "filename_audio", "filename_video", "scene_label", "identifier"]
    return pd.DataFrame(rows, columns=columns)


def name_parts(name: Any) -> tuple[str, str, str] | None:
    """``(scene, identifier, stem)`` of a clip file name, or None."""
    if not isinstance(name, str):
        return None
    stem = PurePosixPath(name).stem
    match = CLIP_NAME.match(stem)
    if not match:
        return None
    return match["scene"], f"{match['city']}-{match['location']}", stem
