"""``avsc data add``: a TAU copy tracked by DVC in one command, the user's files untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from avsc.cli import main
from avsc.data.intake import tree
from avsc.data.intake.clone import reflink_supported

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def bare_project(tmp_path, monkeypatch) -> Path:
    """params.yaml, dvc.yaml and an empty .dvc/ (no DVC command runs in these tests)."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, root / name)
    monkeypatch.setenv("AVSC_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


def _changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    a, b = old.splitlines(), new.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_not_a_tau_layout_is_one_line_exit_2(bare_project, tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    (folder / "audio").mkdir(parents=True)
    assert main(["data", "add", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"avsc data: error: {folder}: not a TAU Urban Audio-Visual Scenes 2021 layout: missing meta.csv, "
        "evaluation_setup/fold1_train.csv, evaluation_setup/fold1_evaluate.csv, video/"
    )
    assert not (bare_project / "data").exists()


def test_dry_run_reports_and_changes_nothing(bare_project, tau_copy, capsys, snap) -> None:
    before, params = snap(tau_copy), (bare_project / "params.yaml").read_text()
    assert main(["data", "add", str(tau_copy), "--dry-run"]) == 0
    out = capsys.readouterr().out
    n = sum(1 for p in tau_copy.rglob("*") if p.is_file())
    assert f"{tau_copy} -> data/tau: {n} files" in out
    if reflink_supported(tau_copy / "meta.csv", bare_project):
        assert "to clone (reflink: copy-on-write, no extra space)" in out
    else:
        assert "to COPY: this filesystem cannot clone (reflink) them" in out
    assert not (bare_project / "data").exists()
    assert sorted(p.name for p in bare_project.iterdir()) == [".dvc", "dvc.yaml", "params.yaml"]
    assert (bare_project / "params.yaml").read_text() == params
    assert snap(tau_copy) == before


def test_reference_sets_the_absolute_path_only(bare_project, tau_copy, capsys, snap) -> None:
    before, params = snap(tau_copy), (bare_project / "params.yaml").read_text()
    assert main(["data", "add", str(tau_copy), "--reference"]) == 0
    new = (bare_project / "params.yaml").read_text()
    changed = _changed_lines(params, new)
    assert len(changed) == 1 and changed[0][1].strip().startswith(f"root: {tau_copy.resolve()}")
    assert "# a real TAU" in changed[0][1]  # the line's comment is kept
    assert yaml.safe_load(new)["data"]["root"] == str(tau_copy.resolve())
    out = capsys.readouterr().out
    assert "`dvc push` does not send it" in out
    assert not (bare_project / "data").exists()
    assert snap(tau_copy) == before


def test_overlaps_are_refused(bare_project, tau_copy, capsys) -> None:
    assert main(["data", "add", str(tau_copy), "--name", "tau-synthetic"]) == 2
    assert "data/tau-synthetic: overlaps data/tau-synthetic, an output of a dvc.yaml stage" in capsys.readouterr().err
    inside = bare_project / "data" / "tau"
    shutil.copytree(tau_copy, inside)
    assert main(["data", "add", str(inside)]) == 2
    assert "overlaps data/tau" in capsys.readouterr().err
    assert main(["data", "add", str(tau_copy), "--name", "../x"]) == 2
    assert "--name '../x': use letters" in capsys.readouterr().err


def test_not_a_dvc_repository(bare_project, tau_copy, capsys) -> None:
    (bare_project / ".dvc").rmdir()
    assert main(["data", "add", str(tau_copy)]) == 2
    assert "not a DVC repository" in capsys.readouterr().err


@pytest.mark.slow
def test_add_tracks_a_copy_and_prepare_uses_it(project, tau_copy, capsys, snap) -> None:
    root = project.root
    before = snap(tau_copy)
    params_before = (root / "params.yaml").read_text()
    reflink = reflink_supported(tau_copy / "meta.csv", root)

    assert main(["data", "add", str(tau_copy)]) == 0
    out = capsys.readouterr().out
    assert snap(tau_copy) == before  # content, mode, inode, link count, mtime: all as they were

    files = sorted(p.relative_to(tau_copy).as_posix() for p in tau_copy.rglob("*") if p.is_file())
    copy = root / "data" / "tau"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == files
    for rel in files:
        assert (copy / rel).read_bytes() == (tau_copy / rel).read_bytes()
        assert (copy / rel).stat().st_ino != (tau_copy / rel).stat().st_ino
    tracked = yaml.safe_load((root / "data" / "tau.dvc").read_text())["outs"][0]
    assert tracked["path"] == "tau" and tracked["nfiles"] == len(files)
    assert "/tau" in (root / "data" / ".gitignore").read_text().split()

    assert project.dvc("config", "--project", "cache.type").strip() == "reflink,hardlink,symlink"
    if reflink:
        assert "to clone" in out
    else:  # one copy shared by data/tau and the cache, never with the user's files
        assert "to COPY" in out
        assert project.dvc("config", "--local", "cache.type").strip() == "hardlink,symlink"
        assert (copy / "meta.csv").stat().st_nlink == 2
    changed = _changed_lines(params_before, (root / "params.yaml").read_text())
    assert [new.split("#")[0].strip() for _old, new in changed] == ["root: data/tau"]
    assert "git add data/tau.dvc data/.gitignore params.yaml" in out

    status = project.dvc("status", "prepare")
    assert "prepare:" in status and "data/tau" in status, status
    run = project.dvc("repro", "prepare")
    assert "Running stage 'prepare'" in run, run
    manifest = json.loads((root / "data" / "manifest.json").read_text())
    assert manifest["root"] == str(copy) and manifest["n_clips"] == 40
    assert "up to date" in project.dvc("status", "prepare")

    # a second run finds everything in place and changes nothing
    assert main(["data", "add", str(tau_copy)]) == 0
    assert "all already there" in capsys.readouterr().out
    assert "up to date" in project.dvc("status", "prepare")
    assert snap(tau_copy) == before


@pytest.mark.slow
def test_interrupted_add_resumes(project, tau_copy, monkeypatch, capsys, snap) -> None:
    before = snap(tau_copy)
    params = (project.root / "params.yaml").read_text()
    real = tree.clone_file
    calls = {"n": 0}

    def interrupted(src, dst, *, allow_copy=True):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return real(src, dst, allow_copy=allow_copy)

    monkeypatch.setattr(tree, "clone_file", interrupted)
    assert main(["data", "add", str(tau_copy)]) == 130
    assert not (project.root / "data" / "tau.dvc").exists()
    assert (project.root / "params.yaml").read_text() == params
    assert len([p for p in (project.root / "data" / "tau").rglob("*") if p.is_file()]) == 19

    monkeypatch.setattr(tree, "clone_file", real)
    capsys.readouterr()
    assert main(["data", "add", str(tau_copy)]) == 0
    n = sum(1 for p in tau_copy.rglob("*") if p.is_file())
    assert f"{n - 19} file(s)" in capsys.readouterr().out
    assert (project.root / "data" / "tau.dvc").is_file()
    assert snap(tau_copy) == before
