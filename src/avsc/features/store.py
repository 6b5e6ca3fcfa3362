"""Per-clip feature store: one ``.npy`` per clip, written atomically, resumable, with a manifest.

A stage output folder holds ``<clip>.npy`` files, ``state.json`` (the fingerprint of the params and
dataset the files were computed with) and, once complete, ``manifest.json``. A run whose
fingerprint matches ``state.json`` keeps every finished clip and computes only the rest; a
different fingerprint starts the folder afresh. Files are written to a temporary name and renamed,
so a killed run never leaves a partial array under a clip's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from avsc.data.media import atomic_path, atomic_write_text
from avsc.errors import DataError

log = logging.getLogger(__name__)


def fingerprint(obj: dict) -> str:
    """Stable hash of a JSON-able mapping."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class FeatureStore:
    """A folder of per-clip arrays."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def path(self, clip: str) -> Path:
        return self.folder / f"{clip}.npy"

    def has(self, clip: str) -> bool:
        return self.path(clip).is_file()

    def save(self, clip: str, array: np.ndarray) -> None:
        with atomic_path(self.path(clip), suffix=".npy") as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array)

    def load(self, clip: str, *, mmap: bool = False) -> np.ndarray:
        path = self.path(clip)
        if not path.is_file():
            raise DataError(f"{path}: features missing; run the feature stage (`dvc repro`)")
        return np.load(path, mmap_mode="r" if mmap else None)

    def begin(self, state: dict) -> None:
        """Start or resume: keep finished clips only if ``state`` matches the folder's."""
        state_file = self.folder / "state.json"
        wanted = fingerprint(state)
        if state_file.is_file():
            try:
                previous = json.loads(state_file.read_text()).get("fingerprint")
            except json.JSONDecodeError:
                previous = None
            if previous == wanted:
                done = len(list(self.folder.glob("*.npy")))
                if done:
                    log.info("resuming in %s: %d clip(s) already computed", self.folder, done)
                (self.folder / "manifest.json").unlink(missing_ok=True)
                return
            log.info("%s was computed with other settings: starting afresh", self.folder)
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        atomic_write_text(state_file, json.dumps({"fingerprint": wanted, "state": state}, indent=1, default=str))

    def finish(self, manifest: dict) -> None:
        """Write ``manifest.json`` (the marker of a complete folder) and drop stray temporaries."""
        for stray in self.folder.glob(".*.npy"):
            stray.unlink()
        atomic_write_text(self.folder / "manifest.json", json.dumps(manifest, indent=1, default=str))

    def manifest(self) -> dict:
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise DataError(f"{path}: features incomplete or missing; run the feature stage (`dvc repro`)")
        return json.loads(path.read_text())
