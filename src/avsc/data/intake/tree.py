"""Mirror a dataset folder into the project, resumably: what to copy, and copying it.

:func:`plan_copy` compares the source with what the destination already holds: a file whose size
and modification time match is done (an earlier run renamed it there only once it was whole, see
:func:`avsc.data.intake.clone.clone_file`); the rest is to do. :func:`copy_tree` removes the
temporary files an interrupted run left and clones or copies what is to do, with a progress bar.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from avsc.data.intake.clone import clone_file, is_temp_name
from avsc.data.paths import inside_root
from avsc.errors import DataError
from avsc.io import fsync_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """A regular file of the source, by its path relative to the source root (``/``-separated)."""

    rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class CopyPlan:
    """Which files of ``source`` ``dest`` still lacks."""

    source: Path
    dest: Path
    files: tuple[SourceFile, ...]
    todo: tuple[SourceFile, ...]
    skipped: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def todo_bytes(self) -> int:
        return sum(f.size for f in self.todo)


def list_files(root: Path) -> tuple[list[SourceFile], list[str]]:
    """Regular files under ``root`` (a symlink counts when it resolves to a regular file inside
    ``root``), and what was left out (special files, links leading out), sorted by path.

    Raises
    ------
    DataError
        A folder under ``root`` is a symlink (it would be left out; use the folder it points to).
    """
    files: list[SourceFile] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        folder = Path(dirpath)
        for name in dirnames:
            if (folder / name).is_symlink():
                raise DataError(
                    f"{folder / name}: a symlinked folder; give the folder it points to, or use --reference"
                )
        dirnames.sort()
        for name in sorted(filenames):
            path = folder / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                if not inside_root(root, rel):
                    skipped.append(f"{rel} (symlink leading out of the folder)")
                    continue
                try:
                    mode = path.stat().st_mode
                except OSError:
                    skipped.append(f"{rel} (broken symlink)")
                    continue
            if not stat.S_ISREG(mode):
                skipped.append(f"{rel} (not a regular file)")
                continue
            st = path.stat()
            files.append(SourceFile(rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns))
    return sorted(files, key=lambda f: f.rel), sorted(skipped)


def _dest_files(dest: Path) -> dict[str, os.stat_result]:
    found: dict[str, os.stat_result] = {}
    if not dest.is_dir():
        return found
    for dirpath, _dirnames, filenames in os.walk(dest):
        for name in filenames:
            if is_temp_name(name):
                continue
            path = Path(dirpath) / name
            try:
                found[path.relative_to(dest).as_posix()] = path.stat()
            except OSError:
                continue
    return found


def plan_copy(source: Path, dest: Path) -> CopyPlan:
    """What copying ``source`` to ``dest`` involves; ``dest`` may be absent or an earlier, partial copy.

    Raises
    ------
    DataError
        ``dest`` holds a file that ``source`` does not: it is not (a partial copy of) this dataset.
    """
    files, skipped = list_files(source)
    existing = _dest_files(dest)
    extra = sorted(set(existing) - {f.rel for f in files})
    if extra:
        raise DataError(
            f"{dest}: holds {extra[0]}"
            + (f" and {len(extra) - 1} more file(s)" if len(extra) > 1 else "")
            + f" that {source} does not; choose another --name, or remove {dest} (and its .dvc file) first"
        )
    todo = tuple(
        f
        for f in files
        if f.rel not in existing or (existing[f.rel].st_size, existing[f.rel].st_mtime_ns) != (f.size, f.mtime_ns)
    )
    return CopyPlan(source=source, dest=dest, files=tuple(files), todo=todo, skipped=tuple(skipped))


def remove_temps(dest: Path) -> int:
    """Remove the temporary files an interrupted copy left under ``dest``; returns how many."""
    count = 0
    if dest.is_dir():
        for dirpath, _dirnames, filenames in os.walk(dest):
            for name in filenames:
                if is_temp_name(name):
                    (Path(dirpath) / name).unlink(missing_ok=True)
                    count += 1
    return count


def copy_tree(plan: CopyPlan, *, allow_copy: bool = True) -> Counter:
    """Clone (or copy) every file of ``plan.todo``; returns how many went each way (``reflink``, ``copy``).

    Raises
    ------
    DataError
        A file could not be read or written (the files already done stay; a re-run resumes).
    """
    stale = remove_temps(plan.dest)
    if stale:
        log.info("%s: removed %d unfinished file(s) of an interrupted run", plan.dest, stale)
    done: Counter = Counter()
    made: set[Path] = set()
    with tqdm(
        total=len(plan.files),
        initial=len(plan.files) - len(plan.todo),
        desc="data add",
        unit="file",
        disable=None,
    ) as bar:
        for item in plan.todo:
            target = plan.dest / item.rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            try:
                done[clone_file(plan.source / item.rel, target, allow_copy=allow_copy)] += 1
            except OSError as exc:  # unreadable source, full disk: one line naming the file
                reason = exc.strerror or type(exc).__name__
                raise DataError(f"{plan.source / item.rel}: copy to {target} failed ({reason})") from None
            bar.update(1)
    for folder in made:  # the renames are durable too
        fsync_dir(folder)
    return done
