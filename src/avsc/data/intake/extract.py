"""Unpack a downloaded zip archive under a folder, refusing anything that would land outside it.

Every member is checked before the first byte is written: a name that is absolute (``/x``,
``C:x``), climbs out (``..``), or is a symlink is refused in one line, and so is an archive that
needs more space than the disk has. Each file is written under a temporary name, checked against
its CRC (by :mod:`zipfile`), flushed and renamed, and gets the archive's time stamp, so extracting
the same archive twice gives the same files.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from avsc.data.intake.clone import temp_name
from avsc.errors import DataError
from avsc.io import default_file_mode, fsync_dir

CHUNK = 1 << 20


def member_problem(info: zipfile.ZipInfo, dest: Path) -> str | None:
    """Why ``info`` must not be extracted under ``dest``; None when it is safe."""
    name = info.filename
    if not name or "\x00" in name:
        return "empty or NUL in the name"
    if "\\" in name:
        return "backslash in the name"
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in pure.parts:
        return "'..' in the path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symlink"
    target = (dest / pure).resolve()
    if not target.is_relative_to(dest.resolve()):
        return "resolves outside the destination"
    return None


def check_archive(zf: zipfile.ZipFile, *, dest: Path, source: str) -> list[zipfile.ZipInfo]:
    """The members of ``zf``, once every one of them is safe to extract under ``dest``.

    Raises
    ------
    DataError
        One line naming the archive, the member and the rule; or not enough free space.
    """
    members = zf.infolist()
    for info in members:
        problem = member_problem(info, dest)
        if problem:
            raise DataError(f"{source}: member {info.filename!r} refused: {problem}")
    needed = sum(i.file_size for i in members if not i.is_dir())
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DataError(f"{source}: needs {needed} bytes once unpacked, {dest} has {free} free")
    return members


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, bar: tqdm) -> None:
    tmp = temp_name(target)
    try:
        with zf.open(info) as src, open(tmp, "wb") as out:
            while block := src.read(CHUNK):
                out.write(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, default_file_mode())
        stamp = time.mktime((*info.date_time, 0, 0, -1))
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def extract_zip(path: Path, dest: Path) -> list[str]:
    """Extract the zip archive ``path`` under ``dest``; returns its top-level names.

    Raises
    ------
    DataError
        Not a readable zip archive, an unsafe member (:func:`check_archive`), or a member whose CRC
        does not match (the archive is damaged).
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(path) as zf:
            members = check_archive(zf, dest=dest, source=str(path))
            folders: set[Path] = set()
            total = sum(i.file_size for i in members if not i.is_dir())
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"unpack {path.name}", disable=None
            ) as bar:
                for info in members:
                    target = dest / PurePosixPath(info.filename)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if target.parent not in folders:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        folders.add(target.parent)
                    _write_member(zf, info, target, bar)
            for folder in folders:
                fsync_dir(folder)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: damaged zip archive ({exc})") from None
    return sorted({PurePosixPath(i.filename).parts[0] for i in members})
