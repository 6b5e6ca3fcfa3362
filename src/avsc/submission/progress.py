"""Resumable inference: results in chunks under ``OUTDIR/.partial``, so a killed run continues.

Chunk ``k`` holds the rows of clips ``k * chunk_size … (k + 1) * chunk_size - 1`` of the ordered
clip list, written atomically once the whole chunk is scored. ``state.json`` records what the
chunks were computed with (model version, clip list, chunk size, error policy); a later run with
other settings refuses the folder instead of mixing results.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avsc.data.tau import CLASSES
from avsc.errors import DataError
from avsc.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

PARTIAL = ".partial"
STATE = "state.json"
CHUNK_COLUMNS = ("filename", *CLASSES, "error")


@dataclass(frozen=True)
class PartialStore:
    """The chunk folder of one submission run."""

    folder: Path
    state: dict

    @classmethod
    def open(cls, out_dir: Path, state: dict) -> PartialStore:
        """Open (or start) ``out_dir/.partial`` for a run described by ``state``.

        Raises
        ------
        DataError
            The folder holds chunks of a run with another model, clip list or chunk size.
        """
        folder = Path(out_dir) / PARTIAL
        path = folder / STATE
        if path.is_file():
            try:
                saved = json.loads(path.read_text())
            except json.JSONDecodeError:
                saved = None
            if saved != state:
                differ = sorted(k for k in set(state) | set(saved or {}) if (saved or {}).get(k) != state.get(k))
                raise DataError(
                    f"{folder}: partial results of another run (different {', '.join(differ) or 'state'}); "
                    "remove the folder or choose another --out"
                )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(state, indent=1, sort_keys=True) + "\n")
        return cls(folder, state)

    def chunk_path(self, k: int) -> Path:
        return self.folder / f"chunk-{k:06d}.csv"

    def done(self, k: int) -> bool:
        return self.chunk_path(k).is_file()

    def write(self, k: int, filenames: list[str], proba: np.ndarray, errors: list[str]) -> None:
        """Store chunk ``k`` (atomically)."""
        frame = pd.DataFrame(proba, columns=list(CLASSES))
        frame.insert(0, "filename", filenames)
        frame["error"] = errors
        with atomic_path(self.chunk_path(k)) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.9g", lineterminator="\n")

    def read(self, k: int) -> pd.DataFrame:
        path = self.chunk_path(k)
        try:
            frame = pd.read_csv(path, dtype={"filename": str, "error": str}, keep_default_na=False)
        except Exception as exc:  # pandas raises several parser errors
            raise DataError(f"{path}: unreadable partial result ({exc}); remove it to recompute the chunk") from None
        if tuple(frame.columns) != CHUNK_COLUMNS:
            raise DataError(f"{path}: unexpected columns; remove it to recompute the chunk")
        return frame

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
