"""Per-clip feature store: one ``.npy`` per clip, written atomically, resumable, with a manifest.

A stage output folder holds ``<clip>.npy`` files, ``state.json`` (the fingerprint of the params,
dataset, code and weights the files were computed with) and, once complete, ``manifest.json``. A
run whose fingerprint matches ``state.json`` keeps every finished clip and computes only the rest;
a different fingerprint starts the folder afresh. Files are written to a temporary name and
renamed, so a killed run never leaves a partial array under a clip's name.

A store marks its folder with ``MARKER`` when it creates it, and never deletes or writes into a
non-empty folder without that mark (``base.features_dir`` pointed at the dataset must not wipe it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from avsc.errors import DataError
from avsc.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

#: The file that marks a folder as a feature store written by avsc.
MARKER = "avsc-feature-store.json"
#: Files a feature store (and its stage) writes, besides ``<clip>.npy``: a folder holding nothing
#: else, with a store's ``state.json``, is a store from before markers existed.
OWN_FILES = frozenset({MARKER, "state.json", "manifest.json", "stats.npz", "skipped.json", "backbone.weights.h5"})


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
        with atomic_path(self.path(clip), suffix=".npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, array)

    def load(self, clip: str, *, mmap: bool = False) -> np.ndarray:
        path = self.path(clip)
        if not path.is_file():
            raise DataError(f"{path}: features missing; run the feature stage (`dvc repro`)")
        return np.load(path, mmap_mode="r" if mmap else None)

    def begin(self, state: dict) -> str:
        """Start or resume: keep finished clips only if ``state`` matches the folder's. Returns the fingerprint.

        Raises :class:`DataError` for a non-empty folder that is not a feature store.
        """
        state_file = self.folder / "state.json"
        wanted = fingerprint(state)
        self._check_owned()
        if state_file.is_file():
            try:
                previous = json.loads(state_file.read_text())
            except json.JSONDecodeError:
                previous = {}
            if previous.get("fingerprint") == wanted:
                done = len(list(self.folder.glob("[!.]*.npy")))
                if done:
                    log.info("resuming in %s: %d clip(s) already computed", self.folder, done)
                (self.folder / "manifest.json").unlink(missing_ok=True)
                return wanted
            changed = _changed_keys(previous.get("state"), state)
            log.info("%s was computed with other %s: starting afresh", self.folder, changed or "settings")
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        atomic_write_text(self.folder / MARKER, json.dumps({"written_by": "avsc", "kind": "feature store"}))
        atomic_write_text(state_file, json.dumps({"fingerprint": wanted, "state": state}, indent=1, default=str))
        return wanted

    def _check_owned(self) -> None:
        """Refuse a non-empty folder without the marker, unless it holds only a store's own files."""
        if not self.folder.exists() or (self.folder / MARKER).is_file():
            return
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: not a folder; a feature store cannot be written there")
        entries = list(self.folder.iterdir())
        if not entries or self._looks_like_old_store(entries):
            atomic_write_text(self.folder / MARKER, json.dumps({"written_by": "avsc", "kind": "feature store"}))
            return
        raise DataError(
            f"{self.folder}: not empty and not a feature store written by avsc (no {MARKER}); refusing to delete "
            "or overwrite it: check base.features_dir, or move the folder away yourself"
        )

    def _looks_like_old_store(self, entries: list[Path]) -> bool:
        try:
            state = json.loads((self.folder / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            return False
        if not (isinstance(state, dict) and {"fingerprint", "state"} <= set(state)):
            return False
        return all(
            p.is_file() and (p.name in OWN_FILES or p.suffix == ".npy" or p.name.startswith(".")) for p in entries
        )

    def finish(self, manifest: dict) -> None:
        """Write ``manifest.json`` (the marker of a complete folder) and drop stray temporaries."""
        for stray in self.folder.glob(".*.npy"):
            stray.unlink()
        atomic_write_text(self.folder / "manifest.json", json.dumps(manifest, indent=1, default=str))

    def publish(self, dest: Path) -> FeatureStore:
        """Move this finished store to ``dest`` (replacing a previous feature store there) and return it.

        ``dest`` must be absent, empty, or a feature store avsc wrote: anything else is refused
        (one line) and left untouched. The old store is moved aside first and removed only after the
        new one is in place.
        """
        import os

        dest = Path(dest)
        FeatureStore(dest)._check_owned()
        dest.parent.mkdir(parents=True, exist_ok=True)
        aside = dest.with_name(f".{dest.name}.old")
        if aside.exists():
            shutil.rmtree(aside)
        if dest.exists():
            os.replace(dest, aside)
        os.replace(self.folder, dest)
        from avsc.io import fsync_dir

        fsync_dir(dest.parent)
        if aside.exists():
            shutil.rmtree(aside)
        return FeatureStore(dest)

    def manifest(self) -> dict:
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise DataError(f"{path}: features incomplete or missing; run the feature stage (`dvc repro`)")
        return json.loads(path.read_text())


def _changed_keys(previous: object, state: dict) -> str:
    """Which top-level settings differ (``code (avsc.features.audio)``), for the log."""
    if not isinstance(previous, dict):
        return ""
    parts = []
    for key in sorted(set(previous) | set(state)):
        old, new = previous.get(key), state.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            inner = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            parts.append(f"{key} ({', '.join(inner)})")
        else:
            parts.append(key)
    return ", ".join(parts)
