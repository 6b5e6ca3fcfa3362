"""Per-epoch training checkpoints, atomic as a set.

Each epoch is one folder, ``epoch-NNNN/`` (``NNNN`` = epochs done), written whole through
:func:`avsc.io.atomic_dir` (fsync'd): ``model.keras`` (model + optimizer), ``best.weights.h5``
(the best weights so far) and ``state.json`` (the :class:`LoopState` and the SHA-256 of the two
files). Then ``latest.json``, the pointer naming that folder and the hash of its ``state.json``,
is replaced atomically: that replacement is the commit. A kill at any moment leaves the previous
commit intact; a folder newer than the pointer was never committed and is ignored. On resume the
pointed-to folder is verified against its hashes; a damaged one is skipped, with a warning, for the
previous complete one. Only the last two epochs are kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import re
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from avsc.features.provenance import file_sha256
from avsc.io import atomic_dir, atomic_write_text

log = logging.getLogger(__name__)

POINTER = "latest.json"
MODEL_FILE = "model.keras"
BEST_FILE = "best.weights.h5"
STATE_FILE = "state.json"
KEEP = 2
EPOCH_DIR = re.compile(r"^epoch-(\d+)$")
#: Files of the single-folder layout of earlier avsc versions (removed by :meth:`Checkpoints.clear`).
OLD_LAYOUT = ("last.keras", "best.weights.h5", "state.json")


@dataclass
class LoopState:
    """Everything needed to continue training after a kill."""

    fingerprint: str
    run_id: str | None = None
    epoch: int = 0
    best: float = -math.inf
    best_epoch: int = -1
    wait: int = 0
    lr_wait: int = 0
    learning_rate: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """One committed, verified epoch folder."""

    folder: Path
    state: LoopState

    @property
    def model(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def best(self) -> Path | None:
        path = self.folder / BEST_FILE
        return path if path.is_file() else None


class DamagedCheckpoint(Exception):
    """A checkpoint folder whose files do not match its state (incomplete or altered)."""


class Checkpoints:
    """The checkpoints of one training run, in ``folder``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.current: Checkpoint | None = None

    def load(self, fingerprint: str) -> Checkpoint | None:
        """The newest complete committed checkpoint, if it was written for ``fingerprint``.

        Its ``state`` is the instance's own: copy it before changing it.
        """
        if self.current is not None and self.current.state.fingerprint == fingerprint:
            return self.current
        found = self.latest()
        if found is None:
            return None
        if found.state.fingerprint != fingerprint:
            log.info("%s: checkpoint of other settings, features or data; not resuming from it", found.folder)
            return None
        self.current = found
        return found

    def latest(self) -> Checkpoint | None:
        """The newest committed checkpoint that verifies, whatever its fingerprint."""
        pointer = self.folder / POINTER
        if not pointer.is_file():
            return None  # nothing committed: any epoch folder is from a run killed before its pointer
        try:
            ref = json.loads(pointer.read_text())
            name, state_sha = str(ref["dir"]), str(ref["state_sha256"])
            newest = _epoch_of(name)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s is damaged (%s): looking for the newest complete checkpoint", pointer, exc)
            name, state_sha, newest = "", "", None
        for folder in self._epoch_folders():
            if newest is not None and _epoch_of(folder.name) > newest:
                continue  # written, never committed
            try:
                state = _verified_state(folder, state_sha if folder.name == name else None)
            except DamagedCheckpoint as exc:
                log.warning("checkpoint %s is incomplete or damaged (%s): trying the previous one", folder, exc)
                continue
            return Checkpoint(folder, state)
        return None

    def save(self, model, state: LoopState, *, improved: bool) -> Checkpoint:
        """Write epoch ``state.epoch`` as one folder, commit it, and keep only the last ``KEEP``."""
        name = f"epoch-{state.epoch:04d}"
        with atomic_dir(self.folder / name) as tmp:
            model.save(tmp / MODEL_FILE)
            previous_best = self.current.best if self.current is not None else None
            if improved:
                model.save_weights(tmp / BEST_FILE)
            elif previous_best is not None:
                _link_or_copy(previous_best, tmp / BEST_FILE)
            files = {p.name: file_sha256(p) for p in sorted(tmp.iterdir())}
            text = json.dumps({**asdict(state), "files": files})
            (tmp / STATE_FILE).write_text(text)
        pointer = {"dir": name, "epoch": state.epoch, "state_sha256": hashlib.sha256(text.encode()).hexdigest()}
        atomic_write_text(self.folder / POINTER, json.dumps(pointer))
        previous, self.current = self.current, Checkpoint(self.folder / name, copy.deepcopy(state))
        self._prune(keep={name} | ({previous.folder.name} if previous is not None else set()))
        return self.current

    def clear(self) -> None:
        """Remove every checkpoint (and leftovers of interrupted writes); nothing else in the folder."""
        self.current = None
        if not self.folder.is_dir():
            return
        (self.folder / POINTER).unlink(missing_ok=True)
        for name in OLD_LAYOUT:
            (self.folder / name).unlink(missing_ok=True)
        self._prune(keep=set())

    def _epoch_folders(self) -> list[Path]:
        """Epoch folders, newest first."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if p.is_dir() and EPOCH_DIR.match(p.name)]
        return sorted(found, key=lambda p: _epoch_of(p.name), reverse=True)

    def _prune(self, *, keep: set[str]) -> None:
        for path in self.folder.iterdir():
            leftover = path.name.startswith(".epoch-") and path.name.endswith((".tmp", ".old"))
            if path.is_dir() and ((EPOCH_DIR.match(path.name) and path.name not in keep) or leftover):
                shutil.rmtree(path, ignore_errors=True)


def _epoch_of(name: str) -> int:
    match = EPOCH_DIR.match(name)
    if not match:
        raise ValueError(f"not an epoch folder name: {name!r}")
    return int(match.group(1))


def _verified_state(folder: Path, state_sha: str | None) -> LoopState:
    """The folder's state, after checking it (against the pointer's hash) and its files' hashes."""
    try:
        text = (folder / STATE_FILE).read_text()
    except OSError:
        raise DamagedCheckpoint(f"no {STATE_FILE}") from None
    if state_sha is not None and hashlib.sha256(text.encode()).hexdigest() != state_sha:
        raise DamagedCheckpoint(f"{STATE_FILE} differs from the one committed")
    try:
        raw = json.loads(text)
        files = dict(raw.pop("files"))
        state = LoopState(**{f.name: raw[f.name] for f in fields(LoopState) if f.name in raw})
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedCheckpoint(f"unreadable {STATE_FILE}: {exc}") from None
    if MODEL_FILE not in files or _epoch_of(folder.name) != state.epoch:
        raise DamagedCheckpoint(f"{STATE_FILE} does not describe this folder")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise DamagedCheckpoint(f"{name} missing")
        if file_sha256(path) != digest:
            raise DamagedCheckpoint(f"{name} does not match its hash")
    return state


def _link_or_copy(src: Path, dst: Path) -> None:
    """Files in a checkpoint are never modified in place, so a hard link is as good as a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
