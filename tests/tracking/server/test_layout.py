"""The server folder's private files: pgpass lines and 0600 writes."""

from __future__ import annotations

import stat

from avsc.tracking.server.layout import (
    Layout,
    pgpass_line,
    private_dir,
    read_pgpass_password,
    read_state,
    write_private,
    write_state,
)


def test_pgpass_round_trip_with_separators_in_the_password(tmp_path):
    path = tmp_path / "pgpass"
    password = r"a:b\c-d_e"
    write_private(path, pgpass_line(port=5433, user="avsc", password=password))
    assert path.read_text() == "*:5433:*:avsc:a\\:b\\\\c-d_e\n"
    assert read_pgpass_password(path, "avsc") == password
    assert read_pgpass_password(path, "postgres") is None
    assert read_pgpass_password(tmp_path / "missing", "avsc") is None


def test_private_files_and_folders_are_owner_only(tmp_path):
    folder = private_dir(tmp_path / "secrets")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    write_private(folder / "key", "x\n")
    write_private(folder / "key", "y\n")  # replaced atomically, still 0600
    assert stat.S_IMODE((folder / "key").stat().st_mode) == 0o600
    assert (folder / "key").read_text() == "y\n"
    assert [p.name for p in folder.iterdir()] == ["key"]  # no temporary file left


def test_state_round_trip(tmp_path):
    layout = Layout.at(tmp_path / "srv")
    assert read_state(layout) == {}
    write_state(layout, {"port": 5000, "tracking_uri": "http://127.0.0.1:5000"})
    assert read_state(layout) == {"port": 5000, "tracking_uri": "http://127.0.0.1:5000"}
    assert layout.pg_data == layout.root / "postgres" / "data"
    assert layout.artifacts == layout.root / "artifacts"
