"""Resumable, verified HTTP downloads against a local server (127.0.0.1) with Range support."""

from __future__ import annotations

import hashlib

import pytest

from avsc.data.intake.fetch import fetch, part_path
from avsc.errors import DataError

NAME = "TAU-urban-audio-visual-scenes-2021-development.audio.1.zip"


@pytest.fixture
def served(archive_server, tau_zips):
    archive_server.files = dict(tau_zips)
    data = tau_zips[NAME]
    return archive_server, data, f"{archive_server.url}/files/{NAME}"


def test_a_good_archive_is_fetched_and_verified(served, tmp_path) -> None:
    server, data, url = served
    path = fetch(url, tmp_path / NAME, md5=hashlib.md5(data).hexdigest(), size=len(data))
    assert path.read_bytes() == data
    assert not part_path(path).exists()
    assert server.requests == [(NAME, None)]


def test_unknown_size_still_verified_by_md5(served, tmp_path) -> None:
    _server, data, url = served
    path = fetch(url, tmp_path / NAME, md5=hashlib.md5(data).hexdigest(), size=None)
    assert path.read_bytes() == data


def test_a_corrupt_archive_is_refused_and_removed(served, tmp_path) -> None:
    _server, data, url = served
    path = tmp_path / NAME
    with pytest.raises(DataError) as err:
        fetch(url, path, md5="0" * 32, size=len(data))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{NAME}: corrupt download ({len(data)} bytes, MD5 {hashlib.md5(data).hexdigest()}")
    assert "deleted, run again" in message
    assert not path.exists() and not part_path(path).exists()


def test_a_size_that_differs_from_the_published_one_is_refused(served, tmp_path) -> None:
    _server, data, url = served
    path = tmp_path / NAME
    with pytest.raises(DataError, match=f"the server offers {len(data)} bytes, the published size is {len(data) + 1}"):
        fetch(url, path, md5=hashlib.md5(data).hexdigest(), size=len(data) + 1)
    assert not path.exists() and not part_path(path).exists()


def test_a_dropped_connection_is_resumed_with_a_range_request(served, tmp_path) -> None:
    server, data, url = served
    server.drop_first.add(NAME)
    path = fetch(url, tmp_path / NAME, md5=hashlib.md5(data).hexdigest(), size=len(data), backoff_s=0)
    assert path.read_bytes() == data
    half = len(data) // 2
    assert server.requests == [(NAME, None), (NAME, f"bytes={half}-")]


def test_an_interrupted_command_resumes_on_the_next_run(served, tmp_path) -> None:
    server, data, url = served
    server.drop_first.add(NAME)
    path = tmp_path / NAME
    md5 = hashlib.md5(data).hexdigest()
    with pytest.raises(DataError, match=r"download interrupted \(the connection closed after .*run the command again"):
        fetch(url, path, md5=md5, size=len(data), retries=0)
    half = len(data) // 2
    assert not path.exists() and part_path(path).read_bytes() == data[:half]
    fetch(url, path, md5=md5, size=len(data), retries=0)
    assert path.read_bytes() == data
    assert server.requests[-1] == (NAME, f"bytes={half}-")


def test_a_server_that_ignores_ranges_starts_over(served, tmp_path) -> None:
    server, data, url = served
    server.ignore_range = True
    path = tmp_path / NAME
    part_path(path).write_bytes(data[:1000])
    fetch(url, path, md5=hashlib.md5(data).hexdigest(), size=len(data))
    assert path.read_bytes() == data
    assert server.requests == [(NAME, "bytes=1000-")]


def test_a_whole_part_file_needs_no_request(served, tmp_path) -> None:
    server, data, url = served
    path = tmp_path / NAME
    part_path(path).write_bytes(data)
    fetch(url, path, md5=hashlib.md5(data).hexdigest(), size=len(data))
    assert path.read_bytes() == data and server.requests == []
    # size unknown: the server answers 416 to the range after the end
    path.unlink()
    part_path(path).write_bytes(data)
    fetch(url, path, md5=hashlib.md5(data).hexdigest(), size=None)
    assert path.read_bytes() == data and server.requests == [(NAME, f"bytes={len(data)}-")]


def test_http_404_is_one_line(served, tmp_path) -> None:
    server, _data, _url = served
    with pytest.raises(DataError, match=r"/files/missing.zip: HTTP 404"):
        fetch(f"{server.url}/files/missing.zip", tmp_path / "missing.zip", md5="0" * 32, retries=0)
    assert not (tmp_path / "missing.zip").exists() and not part_path(tmp_path / "missing.zip").exists()
