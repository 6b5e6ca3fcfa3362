"""Safe unpacking: nothing lands outside the destination, damaged archives are refused."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from avsc.data.intake.extract import extract_zip
from avsc.errors import DataError

TOP = "TAU-urban-audio-visual-scenes-2021-development"


def _write_zip(path, entries) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_extracts_with_the_archive_time_stamps(tmp_path) -> None:
    archive = tmp_path / "a.zip"
    info = zipfile.ZipInfo(f"{TOP}/audio/x.wav", date_time=(2021, 2, 1, 12, 0, 0))
    _write_zip(archive, [(info, b"RIFF"), (f"{TOP}/meta.csv", "a\tb\n")])
    dest = tmp_path / "dest"
    assert extract_zip(archive, dest) == [TOP]
    assert (dest / TOP / "audio" / "x.wav").read_bytes() == b"RIFF"
    assert (dest / TOP / "meta.csv").read_text() == "a\tb\n"
    first = (dest / TOP / "audio" / "x.wav").stat().st_mtime_ns
    extract_zip(archive, dest)  # again: same files, same time stamps, no temporary files
    assert (dest / TOP / "audio" / "x.wav").stat().st_mtime_ns == first
    assert _tree(dest) == [TOP, f"{TOP}/audio", f"{TOP}/audio/x.wav", f"{TOP}/meta.csv"]


@pytest.mark.parametrize(
    ("member", "rule"),
    [
        ("../evil.txt", "'..' in the path"),
        (f"{TOP}/../../evil.txt", "'..' in the path"),
        ("/tmp/evil.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
        ("a\\..\\evil.txt", "backslash in the name"),
    ],
)
def test_traversal_is_refused_before_anything_is_written(tmp_path, member, rule) -> None:
    archive = tmp_path / "bad.zip"
    _write_zip(archive, [(f"{TOP}/meta.csv", "ok"), (member, "pwned")])
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as err:
        extract_zip(archive, dest)
    assert str(err.value) == f"{archive}: member {member!r} refused: {rule}"
    assert _tree(dest) == []
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_members_are_refused(tmp_path) -> None:
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo(f"{TOP}/audio")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    _write_zip(archive, [(info, "/etc")])
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="refused: a symlink"):
        extract_zip(archive, dest)
    assert _tree(dest) == []


def test_a_damaged_archive_is_refused_without_a_final_file(tmp_path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{TOP}/meta.csv", b"A" * 5000)
    data = bytearray(buffer.getvalue())
    start = data.index(b"A" * 100)
    data[start + 10] = ord("B")  # the CRC no longer matches
    archive = tmp_path / "damaged.zip"
    archive.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="damaged zip archive"):
        extract_zip(archive, dest)
    assert not (dest / TOP / "meta.csv").exists()
    assert [p for p in dest.rglob("*") if p.is_file()] == []
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(DataError, match="not.zip: damaged zip archive"):
        extract_zip(tmp_path / "not.zip", dest)
