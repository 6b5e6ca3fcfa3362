"""The ``mlflow server`` command line and environment, and the PostgreSQL listen addresses."""

from __future__ import annotations

import sys
from pathlib import Path

from avsc.tracking.server.mlflow_proc import command, environment, error_line, health_url
from avsc.tracking.server.postgres import listen_addresses


def test_command_has_the_postgres_backend_and_proxied_artifacts():
    cmd = command(
        backend_store_uri="postgresql+psycopg2://avsc@127.0.0.1:5433/mlflow",
        artifacts=Path("/srv/team/artifacts"),
        host="127.0.0.1",
        port=5000,
        workers=2,
        auth=False,
    )
    assert cmd[:4] == [sys.executable, "-m", "mlflow", "server"]
    pairs = dict(zip(cmd[4::1], cmd[5::1]))
    assert pairs["--backend-store-uri"] == "postgresql+psycopg2://avsc@127.0.0.1:5433/mlflow"
    assert pairs["--artifacts-destination"] == "/srv/team/artifacts"
    assert pairs["--host"] == "127.0.0.1" and pairs["--port"] == "5000" and pairs["--workers"] == "2"
    assert "--serve-artifacts" in cmd and "--app-name" not in cmd
    with_auth = command(
        backend_store_uri="x", artifacts=Path("/a"), host="0.0.0.0", port=1, workers=1, auth=True, allowed_hosts="h"
    )
    assert with_auth[-2:] == ["--app-name", "basic-auth"]
    assert with_auth[with_auth.index("--allowed-hosts") + 1] == "h"


def test_environment_drops_client_and_auth_settings():
    base = {
        "PATH": "/usr/bin",
        "MLFLOW_TRACKING_URI": "sqlite:///x.db",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "from-the-shell-123",
        "MLFLOW_BACKEND_STORE_URI": "sqlite:///other.db",
    }
    env = environment(base, pgpass=Path("/srv/team/pgpass"), extra={"MLFLOW_AUTH_CONFIG_PATH": "/srv/a.ini"})
    assert env["PATH"] == "/usr/bin" and env["PGPASSFILE"] == "/srv/team/pgpass"
    assert "MLFLOW_TRACKING_URI" not in env and "MLFLOW_BACKEND_STORE_URI" not in env
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in env
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/srv/a.ini"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_health_url_and_listen_addresses():
    assert health_url("0.0.0.0", 5000) == "http://127.0.0.1:5000/health"
    assert health_url("10.0.0.5", 5000) == "http://10.0.0.5:5000/health"
    assert listen_addresses("127.0.0.1") == "127.0.0.1"
    assert listen_addresses("0.0.0.0") == "0.0.0.0"
    assert listen_addresses("10.0.0.5") == "10.0.0.5,127.0.0.1"


def test_error_line_reads_the_last_start_only(tmp_path):
    log = tmp_path / "mlflow.log"
    log.write_text(
        "==== avsc server start 1 ====\nValueError: old failure\n"
        "==== avsc server start 2 ====\nINFO starting\nERROR: [Errno 98] address already in use\nINFO bye\n"
    )
    assert error_line(log) == "ERROR: [Errno 98] address already in use"
    log.write_text("==== avsc server start 3 ====\nINFO a\nINFO b\n")
    assert error_line(log) == "INFO b"
    assert error_line(tmp_path / "missing.log") == "no log"
