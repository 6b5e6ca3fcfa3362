"""``avsc data download`` against a local server serving the synthetic sample as official-like archives."""

from __future__ import annotations

import json

import pytest

from avsc.cli import main
from avsc.data.intake.layout import check_layout

PREFIX = "TAU-urban-audio-visual-scenes-2021-development."
TOP = "TAU-urban-audio-visual-scenes-2021-development"
META, AUDIO, VIDEO1, VIDEO2 = (f"{PREFIX}{p}.zip" for p in ("meta", "audio.1", "video.1", "video.2"))


def _same_tree(a, b) -> None:
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.fixture
def server(archive_server, tau_zips):
    archive_server.files = dict(tau_zips)
    return archive_server


def test_download_verifies_unpacks_and_skips_on_rerun(server, tmp_path, synthetic_dataset, capsys) -> None:
    listing = server.write_list(tmp_path / "list.json")
    dest = tmp_path / "download"
    server.drop_first.add(VIDEO1)  # the first transfer of video.1 breaks off half-way
    assert main(["data", "download", "--dest", str(dest), "--archives", str(listing)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{dest / TOP}: complete TAU layout; next: avsc data add {dest / TOP}"
    _same_tree(dest / TOP, synthetic_dataset)
    assert len(check_layout(dest / TOP).meta) == 40
    half = len(server.files[VIDEO1]) // 2
    assert [r for r in server.requests if r[0] == VIDEO1] == [(VIDEO1, None), (VIDEO1, f"bytes={half}-")]
    archives = dest / "archives"
    assert sorted(p.name for p in archives.iterdir()) == sorted(f"{n}.done" for n in server.files)
    assert json.loads((archives / f"{META}.done").read_text())["top"] == [TOP]

    count = len(server.requests)
    assert main(["data", "download", "--dest", str(dest), "--archives", str(listing)]) == 0
    assert len(server.requests) == count  # every archive has its done-marker: nothing fetched
    assert f"{dest / TOP}: complete TAU layout" in capsys.readouterr().out


def test_a_corrupt_archive_is_refused_and_fetched_anew_later(server, tmp_path, capsys) -> None:
    dest = tmp_path / "download"
    bad = server.write_list(tmp_path / "bad.json", corrupt={VIDEO2})
    assert main(["data", "download", "--dest", str(dest), "--archives", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"avsc data: error: {VIDEO2}: corrupt download (")
    archives = dest / "archives"
    assert not (archives / VIDEO2).exists() and not (archives / f"{VIDEO2}.part").exists()
    assert not (archives / f"{VIDEO2}.done").exists()
    assert all((archives / f"{n}.done").is_file() for n in (META, AUDIO, VIDEO1))

    good = server.write_list(tmp_path / "good.json")
    server.requests.clear()
    assert main(["data", "download", "--dest", str(dest), "--archives", str(good)]) == 0
    assert server.requests == [(VIDEO2, None)]
    check_layout(dest / TOP)


def test_only_and_keep_archives_and_base_url(server, tmp_path, capsys) -> None:
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps({"archives": json.loads(server.write_list(listing).read_text())["archives"]}))
    dest = tmp_path / "download"
    args = ["data", "download", "--dest", str(dest), "--archives", str(listing), "--only", "*meta*", "--keep-archives"]
    assert main([*args, "--base-url", f"{server.url}/files/"]) == 0
    assert [r[0] for r in server.requests] == [META]
    assert (dest / "archives" / META).read_bytes() == server.files[META]
    out = capsys.readouterr().out
    assert f"{dest / TOP}: unpacked, not complete yet (" in out and "missing audio/, video/" in out
    assert main(args) == 0  # already done: the missing base_url is not needed
    assert main(["data", "download", "--dest", str(dest), "--archives", str(listing), "--only", "*audio*"]) == 2
    assert "no base_url; give --base-url" in capsys.readouterr().err


@pytest.mark.slow
def test_download_then_add_then_prepare(server, project, tmp_path, capsys, snap) -> None:
    listing = server.write_list(tmp_path / "list.json", sizes=False)  # sizes unknown, like the meta archive
    dest = tmp_path / "download"
    assert main(["data", "download", "--dest", str(dest), "--archives", str(listing)]) == 0
    capsys.readouterr()
    before = snap(dest)
    assert main(["data", "add", str(dest / TOP), "--name", "tau2021"]) == 0
    assert snap(dest) == before
    assert (project.root / "data" / "tau2021.dvc").is_file()
    status = project.dvc("status", "prepare")
    assert "data/tau2021" in status, status
    assert "Running stage 'prepare'" in project.dvc("repro", "prepare")
    manifest = json.loads((project.root / "data" / "manifest.json").read_text())
    assert manifest["n_clips"] == 40 and manifest["root"] == str(project.root / "data" / "tau2021")
    assert "up to date" in project.dvc("status", "prepare")
