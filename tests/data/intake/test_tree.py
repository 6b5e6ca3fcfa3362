"""The resumable tree copy: what is left to do, and carrying on after an interruption."""

from __future__ import annotations

import os

import pytest

from avsc.data.intake import tree
from avsc.data.intake.clone import temp_name
from avsc.data.intake.tree import copy_tree, list_files, plan_copy
from avsc.errors import DataError


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_plan_lists_every_regular_file(tau_copy, tmp_path) -> None:
    plan = plan_copy(tau_copy, tmp_path / "dest")
    assert [f.rel for f in plan.files] == _all_files(tau_copy)
    assert plan.todo == plan.files and plan.skipped == ()
    assert plan.total_bytes == sum(p.stat().st_size for p in tau_copy.rglob("*") if p.is_file())


def test_copy_then_nothing_left(tau_copy, tmp_path, snap) -> None:
    before = snap(tau_copy)
    dest = tmp_path / "dest"
    done = copy_tree(plan_copy(tau_copy, dest))
    assert sum(done.values()) == len(_all_files(tau_copy))
    assert _all_files(dest) == _all_files(tau_copy)
    for rel in _all_files(tau_copy):
        assert (dest / rel).read_bytes() == (tau_copy / rel).read_bytes()
    assert plan_copy(tau_copy, dest).todo == ()
    assert snap(tau_copy) == before


def test_interrupted_copy_resumes_without_partial_final_files(tau_copy, tmp_path, monkeypatch, snap) -> None:
    before = snap(tau_copy)
    dest = tmp_path / "dest"
    real = tree.clone_file
    calls = {"n": 0}

    def dies_on_the_tenth(src, dst, *, allow_copy=True):
        calls["n"] += 1
        if calls["n"] == 10:  # killed half-way through writing a file
            temp_name(dst).write_bytes(src.read_bytes()[:100])
            raise KeyboardInterrupt
        return real(src, dst, allow_copy=allow_copy)

    monkeypatch.setattr(tree, "clone_file", dies_on_the_tenth)
    with pytest.raises(KeyboardInterrupt):
        copy_tree(plan_copy(tau_copy, dest))
    finals = _all_files(dest)
    temps = [f for f in finals if f.rsplit("/", 1)[-1].startswith(".")]
    assert len(temps) == 1
    complete = [f for f in finals if f not in temps]
    assert len(complete) == 9
    for rel in complete:  # every file under its final name is whole
        assert (dest / rel).read_bytes() == (tau_copy / rel).read_bytes()

    monkeypatch.setattr(tree, "clone_file", real)
    plan = plan_copy(tau_copy, dest)
    assert len(plan.todo) == len(plan.files) - 9
    done = copy_tree(plan)
    assert sum(done.values()) == len(plan.files) - 9
    assert _all_files(dest) == _all_files(tau_copy)  # the stale temporary file is gone
    assert snap(tau_copy) == before


def test_a_changed_source_file_is_copied_again(tau_copy, tmp_path) -> None:
    dest = tmp_path / "dest"
    copy_tree(plan_copy(tau_copy, dest))
    meta = tau_copy / "meta.csv"
    meta.write_text(meta.read_text() + "\n")
    plan = plan_copy(tau_copy, dest)
    assert [f.rel for f in plan.todo] == ["meta.csv"]


def test_a_destination_with_other_files_is_refused(tau_copy, tmp_path) -> None:
    dest = tmp_path / "dest"
    (dest / "audio").mkdir(parents=True)
    (dest / "audio" / "other.wav").write_bytes(b"x")
    with pytest.raises(DataError, match=r"holds audio/other\.wav that .* does not; choose another --name"):
        plan_copy(tau_copy, dest)


def test_special_files_and_outside_links_are_left_out(tau_copy, tmp_path) -> None:
    os.mkfifo(tau_copy / "pipe")
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (tau_copy / "link-out").symlink_to(outside)
    (tau_copy / "link-in").symlink_to(tau_copy / "meta.csv")
    files, skipped = list_files(tau_copy)
    names = {f.rel for f in files}
    assert "link-in" in names and "pipe" not in names and "link-out" not in names
    assert skipped == ["link-out (symlink leading out of the folder)", "pipe (not a regular file)"]


def test_a_symlinked_folder_is_refused(tau_copy, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tau_copy / "video").rename(elsewhere)
    (tau_copy / "video").symlink_to(elsewhere)
    with pytest.raises(DataError, match=r"video: a symlinked folder"):
        list_files(tau_copy)


def test_an_unreadable_file_is_one_line(tau_copy, tmp_path, monkeypatch) -> None:
    import errno

    from avsc.data.intake import clone

    def unreadable(path):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(clone, "open_source", unreadable)
    with pytest.raises(DataError, match=r"README.txt: copy to .*README.txt failed \(Permission denied\)$"):
        copy_tree(plan_copy(tau_copy, tmp_path / "dest"))
