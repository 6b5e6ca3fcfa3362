"""Media paths from index files: only regular files inside the root pass, and nothing is opened to tell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avsc.data.paths import MISSING, NOT_REGULAR, OUTSIDE_ROOT, inside_root, media_path, media_problem
from avsc.errors import DataError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "audio").mkdir(parents=True)
    (root / "audio" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "outside.wav").write_bytes(b"RIFF")
    return root


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "make, name, rule",
    [
        (None, "audio/a.wav", None),
        (None, "audio/none.wav", MISSING),
        (None, "/dev/zero", OUTSIDE_ROOT),
        (None, "../outside.wav", OUTSIDE_ROOT),
        (None, "audio/../../outside.wav", OUTSIDE_ROOT),
        (None, "audio/../audio/a.wav", OUTSIDE_ROOT),  # '..' is refused even when it stays inside
        (None, "", OUTSIDE_ROOT),
        (None, "audio", NOT_REGULAR),
        (lambda r: (r / "audio" / "in.wav").symlink_to(r / "audio" / "a.wav"), "audio/in.wav", None),
        (lambda r: (r / "audio" / "out.wav").symlink_to(r.parent / "outside.wav"), "audio/out.wav", OUTSIDE_ROOT),
        (lambda r: (r / "audio" / "zero.wav").symlink_to("/dev/zero"), "audio/zero.wav", OUTSIDE_ROOT),
        (lambda r: os.mkfifo(r / "audio" / "fifo.wav"), "audio/fifo.wav", NOT_REGULAR),
        (
            lambda r: (os.mkfifo(r / "audio" / "fifo"), (r / "audio" / "f.wav").symlink_to(r / "audio" / "fifo")),
            "audio/f.wav",
            NOT_REGULAR,
        ),
        (lambda r: (r / "audio" / "loop.wav").symlink_to(r / "audio" / "loop.wav"), "audio/loop.wav", OUTSIDE_ROOT),
    ],
)
def test_media_problem(root: Path, make, name: str, rule: str | None) -> None:
    if make:
        make(root)
    assert media_problem(root, name) == rule
    assert inside_root(root, name) == (rule != OUTSIDE_ROOT)


def test_media_path_is_one_line_naming_source_and_rule(root: Path) -> None:
    assert media_path(root, "audio/a.wav", source="meta.csv line 2") == root / "audio" / "a.wav"
    with pytest.raises(DataError) as err:
        media_path(root, "../outside.wav", source="meta.csv line 7")
    assert str(err.value) == f"meta.csv line 7: '../outside.wav': {OUTSIDE_ROOT}"
    assert "\n" not in str(err.value)
    assert media_problem(root, None) == OUTSIDE_ROOT
