"""Copy-on-write clones with a plain-copy fallback: never the user's inode, never a partial final file."""

from __future__ import annotations

import errno
import os

import pytest

from avsc.data.intake import clone
from avsc.data.intake.clone import clone_file, reflink_supported, temp_name


def _file(tmp_path, data: bytes = b"abc" * 100_000):
    src_dir = tmp_path / "user"
    src_dir.mkdir()
    src = src_dir / "clip.wav"
    src.write_bytes(data)
    os.utime(src, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    return src


def test_clone_or_copy_is_a_new_inode_with_the_same_bytes(tmp_path, snap) -> None:
    src = _file(tmp_path)
    before = snap(src.parent)
    dst = tmp_path / "data" / "clip.wav"
    dst.parent.mkdir()
    how = clone_file(src, dst)
    assert how == ("reflink" if reflink_supported(src, dst.parent) else "copy")
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_ino != src.stat().st_ino and src.stat().st_nlink == 1
    assert dst.stat().st_mtime_ns == src.stat().st_mtime_ns
    assert not temp_name(dst).exists()
    assert snap(src.parent) == before


def test_no_reflink_errno_falls_back_to_copy(tmp_path, monkeypatch) -> None:
    import fcntl

    calls = []

    def refuse(fd, request, arg):
        calls.append(request)
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(fcntl, "ioctl", refuse)
    src = _file(tmp_path)
    dst = tmp_path / "clip.wav"
    assert clone_file(src, dst) == "copy"
    assert calls == [clone.FICLONE]
    assert dst.read_bytes() == src.read_bytes()
    with pytest.raises(RuntimeError, match="cannot clone"):
        clone_file(src, tmp_path / "other.wav", allow_copy=False)
    assert not (tmp_path / "other.wav").exists() and not temp_name(tmp_path / "other.wav").exists()


def test_a_failed_copy_leaves_nothing_and_the_old_file(tmp_path, monkeypatch) -> None:
    src = _file(tmp_path)
    dst = tmp_path / "clip.wav"
    dst.write_bytes(b"old")

    def broken(fin, fout, length=0):
        fout.write(b"half")
        raise OSError(errno.EIO, "disk error")

    monkeypatch.setattr(clone, "try_reflink", lambda s, d: False)
    monkeypatch.setattr(clone.shutil, "copyfileobj", broken)
    with pytest.raises(OSError, match="disk error"):
        clone_file(src, dst)
    assert dst.read_bytes() == b"old"
    assert not temp_name(dst).exists()


def test_an_existing_destination_is_replaced_not_written_in_place(tmp_path) -> None:
    src = _file(tmp_path)
    dst = tmp_path / "clip.wav"
    dst.write_bytes(b"cached")
    link = tmp_path / "cache-object"
    os.link(dst, link)  # as when DVC hard-links the project copy into its cache
    os.chmod(dst, 0o444)
    clone_file(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert link.read_bytes() == b"cached"  # the cache object is untouched


def test_reflink_probe_leaves_nothing(tmp_path) -> None:
    src = _file(tmp_path)
    folder = tmp_path / "data"
    folder.mkdir()
    assert reflink_supported(src, folder) in (True, False)
    assert list(folder.iterdir()) == []
