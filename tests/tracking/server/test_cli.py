"""``avsc server`` and ``avsc store`` arguments; the one-line errors that need no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avsc.cli import build_parser

REPO = Path(__file__).resolve().parents[3]


def test_server_start_defaults():
    args = build_parser().parse_args(["server", "start"])
    assert (args.action, args.dir, args.host, args.port, args.pg_port) == (
        "start",
        Path(".avsc-server"),
        "127.0.0.1",
        5000,
        5433,
    )
    assert (args.auth, args.credentials, args.auth_default_permission, args.workers) == (False, None, "EDIT", 2)
    args = build_parser().parse_args(["server", "stop", "--dir", "/srv/team", "--timeout", "5"])
    assert (args.action, args.dir, args.timeout) == ("stop", Path("/srv/team"), 5.0)
    assert build_parser().parse_args(["server", "status", "--json"]).json


def test_store_migrate_needs_a_target():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["store", "migrate"])
    args = build_parser().parse_args(["store", "migrate", "--to", "postgresql://avsc@h:5433/mlflow", "--no-registry"])
    assert (args.to, args.source, args.no_registry) == ("postgresql://avsc@h:5433/mlflow", None, True)


def _avsc(*argv: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'pipelines'}"}
    return subprocess.run(
        [sys.executable, "-m", "avsc", *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )


@pytest.mark.parametrize(
    "command", [["server", "--help"], ["server", "start", "--help"], ["store", "migrate", "--help"]]
)
def test_help(command, tmp_path):
    proc = _avsc(*command, tmp_path=tmp_path)
    assert proc.returncode == 0 and "usage: avsc" in proc.stdout


def test_one_line_errors_before_anything_starts(tmp_path):
    proc = _avsc("server", "start", "--dir", str(tmp_path / "s"), "--host", "127.0.0.1;id", tmp_path=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "avsc server: error: --host '127.0.0.1;id': expected a host name or an IP address"
    ]
    proc = _avsc("server", "start", "--dir", str(tmp_path / "s"), "--credentials", "x", tmp_path=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "avsc server: error: --credentials is only used with --auth"
    assert not (tmp_path / "s").exists()


def test_status_of_a_folder_where_nothing_runs(tmp_path):
    proc = _avsc("server", "status", "--dir", str(tmp_path / "none"), tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "not running" in proc.stdout.splitlines()[0]
    proc = _avsc("server", "stop", "--dir", str(tmp_path / "none"), tmp_path=tmp_path)
    assert proc.returncode == 0 and "nothing running" in proc.stdout


def test_migrate_refuses_a_tracking_uri_and_redacts_it(tmp_path):
    proc = _avsc(
        "store",
        "migrate",
        "--to",
        "http://admin:s3cret-s3cret@127.0.0.1:5000",
        "--artifacts-destination",
        str(tmp_path),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "s3cret" not in line
    assert "give the server's database URL (postgresql://...), not its tracking URI" in line


def test_migrate_into_an_unreachable_database_is_one_line(tmp_path):
    import sqlite3

    db = tmp_path / "mlflow.db"
    sqlite3.connect(db).close()
    proc = _avsc(
        "store",
        "migrate",
        "--to",
        "postgresql://avsc:s3cret-s3cret@127.0.0.1:1/mlflow",
        "--from",
        f"sqlite:///{db}",
        "--artifacts-destination",
        str(tmp_path),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "s3cret" not in lines[0]
    assert lines[0].startswith(
        "avsc store: error: --to postgresql://avsc:***@127.0.0.1:1/mlflow: cannot use it as the MLflow store "
        '((psycopg2.OperationalError) connection to server at "127.0.0.1", port 1 failed'
    )
