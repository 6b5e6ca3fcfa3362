"""Media paths named by a dataset's index files, checked before anything opens them.

An index row names its media files relative to the dataset root. A name that is absolute
(``/dev/zero``), climbs out (``../../etc/passwd``) or resolves outside the root through a symlink
is never opened, and neither is anything that is not a regular file: reading a FIFO blocks until
a writer comes, reading a device may never end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from avsc.errors import DataError

OUTSIDE_ROOT = "path must be relative, without '..', and resolve inside the dataset root"
MISSING = "referenced file must exist"
NOT_REGULAR = "referenced file must be a regular file (not a FIFO, device or folder)"


def inside_root(root: Path, name: object) -> bool:
    """``name`` is relative, has no ``..``, and resolves (symlinks included) inside ``root``."""
    if not isinstance(name, str) or not name:
        return False
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or Path(name).is_absolute() or ".." in pure.parts:
        return False
    try:
        resolved = (root / pure).resolve()
        return resolved.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # symlink loop, unreadable folder
        return False


def media_problem(root: Path, name: object) -> str | None:
    """The rule that ``name`` breaks as a media file of the dataset at ``root``; None when it is fine.

    Only ``stat`` is called (it follows symlinks, whose targets :func:`inside_root` has checked);
    nothing is opened.
    """
    if not inside_root(root, name):
        return OUTSIDE_ROOT
    try:
        mode = os.stat(root / PurePosixPath(str(name))).st_mode
    except FileNotFoundError:
        return MISSING
    except OSError as exc:
        return f"referenced file cannot be inspected ({exc.strerror or type(exc).__name__})"
    return None if stat.S_ISREG(mode) else NOT_REGULAR


def media_path(root: Path, name: object, *, source: str) -> Path:
    """``root / name`` once :func:`media_problem` finds nothing wrong with it.

    Raises
    ------
    DataError
        One line: ``<source>: <name>: <rule>``, where ``source`` names the index file and row.
    """
    problem = media_problem(root, name)
    if problem:
        raise DataError(f"{source}: {name!r}: {problem}")
    return root / PurePosixPath(str(name))
