"""Archive lists: the official TAU 2021 development list and user-given ones."""

from __future__ import annotations

import json

import pytest

from avsc.data.intake.archives import load_archive_list, parse_archive_list
from avsc.errors import ConfigError


def test_official_list() -> None:
    listing = load_archive_list()
    names = [a.name for a in listing.archives]
    assert len(names) == 25 and len(set(names)) == 25
    assert names[0] == "TAU-urban-audio-visual-scenes-2021-development.meta.zip"
    assert listing.archives[0].size is None and listing.archives[0].md5 == "76e3d7ed5291b118372e06379cb2b490"
    assert sum(n.endswith(".zip") and ".audio." in n for n in names) == 8
    assert sum(".video." in n for n in names) == 16
    assert all(a.size and a.size > 300_000_000 for a in listing.archives[1:])
    video16 = listing.archives[-1]
    assert (video16.size, video16.md5) == (2286205594, "4e1ab47f0d180b818491ef3c3f45ebc6")
    assert listing.url(video16) == (
        "https://zenodo.org/records/4477542/files/"
        "TAU-urban-audio-visual-scenes-2021-development.video.16.zip?download=1"
    )
    assert listing.url(video16, base_url="http://mirror/tau/") == f"http://mirror/tau/{video16.name}"


def test_select() -> None:
    listing = load_archive_list()
    assert [a.name for a in listing.select(["*meta*"])] == ["TAU-urban-audio-visual-scenes-2021-development.meta.zip"]
    assert len(listing.select(["*audio.*", "*meta*"])) == 9
    assert len(listing.select(None)) == 25
    with pytest.raises(ConfigError, match=r"--only \*nothing\*: matches none of the 25 archives"):
        listing.select(["*nothing*"])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "expected an object with a non-empty 'archives' list"),
        ({"archives": [{"name": "../x.zip", "bytes": 1, "md5": "0" * 32}]}, "name must be a plain file name"),
        ({"archives": [{"name": "x.zip", "bytes": -1, "md5": "0" * 32}]}, r"\(x.zip\): bytes must be"),
        ({"archives": [{"name": "x.zip", "bytes": 1, "md5": "abc"}]}, "md5 must be 32 hexadecimal digits"),
        ({"archives": [{"name": "x.zip", "md5": "0" * 32}] * 2}, "appears twice"),
    ],
)
def test_bad_lists(doc, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_archive_list(doc, source="list.json")


def test_a_list_file(tmp_path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"archives": [{"name": "x.zip", "bytes": None, "md5": "A" * 32}]}))
    listing = load_archive_list(path)
    assert listing.archives[0].md5 == "a" * 32
    with pytest.raises(ConfigError, match="no base_url; give --base-url"):
        listing.url(listing.archives[0])
    path.write_text("{")
    with pytest.raises(ConfigError, match=r"list.json: not valid JSON"):
        load_archive_list(path)
