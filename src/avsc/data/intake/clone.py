"""Copy one file into the project without ever sharing an inode with the user's file.

:func:`clone_file` asks the filesystem for a copy-on-write clone (Linux ``FICLONE`` ioctl: Btrfs,
XFS, bcachefs, OCFS2...): the clone is a new inode that shares data blocks with the source until
either is written, so it costs no space and no time, and a later ``chmod`` or write of the clone
(DVC makes cached files read-only) never touches the source. Where the filesystem cannot clone
(ext4, a different filesystem, not Linux) the bytes are copied. A hard link is never made: it *is*
the user's inode.

The source is only read (with ``O_NOATIME`` where the kernel allows it, so not even its access
time changes). The destination is written under a temporary name and renamed when complete and
flushed to disk, so a file under its final name is always whole.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from avsc.io import default_file_mode, fsync_dir

#: ``_IOW(0x94, 9, int)``: clone a whole file (linux/fs.h).
FICLONE = 0x40049409
#: errno values meaning "this filesystem (pair) cannot clone", not "the copy failed".
NO_REFLINK = frozenset(
    e
    for e in (
        errno.EOPNOTSUPP,
        getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
        errno.ENOTTY,
        errno.EXDEV,
        errno.EINVAL,
        errno.ENOSYS,
        errno.EPERM,
    )
)
COPY_CHUNK = 16 << 20
TMP_SUFFIX = ".avsc-tmp"


def temp_name(path: Path) -> Path:
    """The temporary name of ``path`` while it is being written (found again after an interruption)."""
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def open_source(path: Path) -> int:
    """A read-only descriptor of ``path``, with ``O_NOATIME`` when permitted (owner or root)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass
    return os.open(path, flags)


def try_reflink(src_fd: int, dst_fd: int) -> bool:
    """Clone ``src_fd``'s content into ``dst_fd``; False when the filesystem cannot (nothing written)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return False
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
    except OSError as exc:
        if exc.errno in NO_REFLINK:
            return False
        raise
    return True


def clone_file(src: Path, dst: Path, *, allow_copy: bool = True) -> str:
    """Write a clone (or, failing that, a copy) of ``src`` at ``dst``; returns ``"reflink"`` or ``"copy"``.

    ``dst`` gets ``src``'s modification time (so an unchanged file is recognised on a re-run) and
    the mode a new file gets under the umask. An existing ``dst`` is replaced by a rename, never
    written in place (it may be a hard link into DVC's cache).

    Raises
    ------
    OSError
        Reading or writing failed; the temporary file is removed and ``dst`` is unchanged.
    RuntimeError
        ``allow_copy`` is False and the filesystem cannot clone.
    """
    tmp = temp_name(dst)
    src_fd = open_source(src)
    try:
        st = os.fstat(src_fd)
        dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if try_reflink(src_fd, dst_fd):
                how = "reflink"
            elif allow_copy:
                with os.fdopen(os.dup(src_fd), "rb") as fin, os.fdopen(os.dup(dst_fd), "wb") as fout:
                    shutil.copyfileobj(fin, fout, COPY_CHUNK)
                how = "copy"
            else:
                raise RuntimeError(f"{src}: the filesystem cannot clone it to {dst}")
            os.fchmod(dst_fd, default_file_mode())
            os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(dst_fd)
        finally:
            os.close(dst_fd)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(src_fd)
    return how


def reflink_supported(src: Path, folder: Path) -> bool:
    """Whether ``src`` can be cloned into the existing ``folder`` (tried on ``src`` itself).

    Only the clone's temporary file in ``folder`` is written, and removed at once.
    """
    probe = folder / f".reflink-probe-{os.getpid()}{TMP_SUFFIX}"
    src_fd = open_source(src)
    try:
        dst_fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return try_reflink(src_fd, dst_fd)
        finally:
            os.close(dst_fd)
            probe.unlink(missing_ok=True)
            fsync_dir(folder)
    finally:
        os.close(src_fd)
