"""``avsc server start|stop|status``: PostgreSQL + ``mlflow server`` on this machine, detached.

``start`` initialises the cluster on first use (random passwords: the superuser's in
``secrets/``, the ``avsc`` role's in ``pgpass``), starts PostgreSQL, creates the databases,
starts ``mlflow server`` (PostgreSQL backend store, proxied artifacts under ``<dir>/artifacts``)
and waits until ``/health`` answers. What it started is undone when a later step fails, so a
failed start leaves nothing running and no half-initialised cluster. A second ``start`` while
both run changes nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsc.errors import AvscError
from avsc.tracking.server import auth, mlflow_proc, postgres
from avsc.tracking.server.auth import Credentials
from avsc.tracking.server.layout import (
    AUTH_DB,
    MLFLOW_DB,
    OPTUNA_DB,
    ROLE,
    Layout,
    new_password,
    pgpass_line,
    private_dir,
    read_pgpass_password,
    read_state,
    write_private,
    write_state,
)
from avsc.tracking.server.urls import (
    check_host,
    http_url,
    is_loopback,
    postgres_url,
    public_host,
)

log = logging.getLogger(__name__)

ADMIN_CREATED = "auth_admin_created"


@dataclass(frozen=True)
class StartOptions:
    folder: Path
    host: str = "127.0.0.1"
    port: int = 5000
    pg_port: int = 5433
    workers: int = 2
    timeout: float = 180.0
    auth: bool = False
    credentials_file: Path | None = None
    default_permission: str = "EDIT"
    allowed_hosts: str | None = None


@dataclass(frozen=True)
class Status:
    """What runs in a server folder."""

    layout: Layout
    state: dict[str, Any]
    postgres_pid: int | None
    mlflow: mlflow_proc.ServerProcess | None
    mlflow_healthy: bool

    @property
    def running(self) -> bool:
        return self.postgres_pid is not None and self.mlflow is not None and self.mlflow_healthy


def check_port(host: str, port: int, *, option: str) -> None:
    """One-line error when something already listens on ``host:port``."""
    if not 0 < port < 65536:
        raise AvscError(f"{option} {port}: not a TCP port (1-65535)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise AvscError(
                f"port {port} on {host} is in use or not available ({exc.strerror}); choose another {option}"
            ) from None


def status(folder: Path) -> Status:
    layout = Layout.at(folder)
    state = read_state(layout)
    pg_pid = postgres.running_pid(layout) if postgres.initialized(layout) else None
    server = mlflow_proc.read_pidfile(layout, state.get("mlflow_create_time"))
    if server is not None and not mlflow_proc.alive(server):
        server = None
    ok = server is not None and mlflow_proc.healthy(
        mlflow_proc.health_url(state.get("host", "127.0.0.1"), int(state.get("port", 0)))
    )
    return Status(layout, state, pg_pid, server, ok)


def _urls(*, host: str, port: int, pg_port: int) -> dict[str, str]:
    shown = public_host(host)
    return {
        "tracking_uri": http_url(shown, port),
        "optuna_storage": postgres_url(user=ROLE, host=shown, port=pg_port, database=OPTUNA_DB),
        "mlflow_db": postgres_url(user=ROLE, host=shown, port=pg_port, database=MLFLOW_DB),
    }


def _quietly(func, *args: Any, **kwargs: Any) -> None:
    """Undo step of a failed start: never let it hide the error that made the start fail."""
    try:
        func(*args, **kwargs)
    except Exception as exc:
        log.warning("cleaning up after the failed start: %s", exc)


def _init_secrets(layout: Layout, undo: contextlib.ExitStack) -> None:
    """Random passwords of a new cluster (removed again when the start fails)."""
    if not layout.secrets.exists():
        private_dir(layout.secrets)
        undo.callback(shutil.rmtree, layout.secrets, ignore_errors=True)
    if not layout.superuser_password.exists():
        write_private(layout.superuser_password, new_password() + "\n")
        undo.callback(_quietly, layout.superuser_password.unlink, missing_ok=True)


def _write_pgpass(layout: Layout, pg_port: int) -> None:
    password = read_pgpass_password(layout.pgpass, ROLE) or new_password()
    write_private(layout.pgpass, pgpass_line(port=pg_port, user=ROLE, password=password))


def _start_postgres(layout: Layout, opts: StartOptions, undo: contextlib.ExitStack) -> int:
    postgres.check_system_user()
    postgres.bindir()
    fresh = not postgres.initialized(layout)
    check_port(opts.host, opts.pg_port, option="--pg-port")
    if fresh:
        created_root = not layout.postgres.exists()
        postgres.prepare_folder(layout)
        undo.callback(shutil.rmtree, layout.postgres if created_root else layout.pg_data, ignore_errors=True)
        _init_secrets(layout, undo)
        postgres.init_cluster(layout, layout.superuser_password.read_text().strip())
        if not layout.pgpass.exists():
            undo.callback(_quietly, layout.pgpass.unlink, missing_ok=True)
    _write_pgpass(layout, opts.pg_port)
    pid = postgres.start(layout, host=opts.host, port=opts.pg_port)
    undo.callback(_quietly, postgres.stop, layout)
    log.info("PostgreSQL %s on port %d (pid %d)", "initialised and started" if fresh else "started", opts.pg_port, pid)
    return pid


def _admin_credentials(opts: StartOptions, state: dict[str, Any]) -> Credentials:
    if importlib.util.find_spec("flask_wtf") is None:
        raise AvscError("--auth needs Flask-WTF for MLflow's basic-auth app: pip install 'mlflow[auth]'")
    credentials = auth.read_credentials(
        opts.credentials_file, default_username=state.get(ADMIN_CREATED) or auth.DEFAULT_USERNAME
    )
    if credentials.password is None and state.get(ADMIN_CREATED) != credentials.username:
        raise AvscError(
            f"--auth: the first start with authentication creates the admin user {credentials.username!r} and needs "
            f"its password: set {auth.PASSWORD_ENV} or pass --credentials FILE"
        )
    return credentials


def _auth_env(layout: Layout, opts: StartOptions, credentials: Credentials, pg_port: int) -> dict[str, str]:
    database = postgres_url(user=ROLE, host="127.0.0.1", port=pg_port, database=AUTH_DB, driver="postgresql+psycopg2")
    write_private(layout.auth_ini, auth.ini_text(database_uri=database, default_permission=opts.default_permission))
    private_dir(layout.secrets)
    if not layout.flask_secret.exists():
        write_private(layout.flask_secret, new_password() + "\n")
    return auth.server_env(credentials, ini_path=layout.auth_ini, secret_key=layout.flask_secret.read_text().strip())


def start(opts: StartOptions) -> tuple[Status, bool]:
    """Start what is not running; return the status and whether anything was started."""
    check_host(opts.host)
    current = status(opts.folder)
    if current.running:
        return current, False
    layout = current.layout
    if not is_loopback(opts.host):
        log.warning(
            "--host %s: MLflow (port %d) and PostgreSQL (port %d, password in %s) are reachable from the network%s",
            opts.host,
            opts.port,
            opts.pg_port,
            layout.pgpass,
            "" if opts.auth else "; without --auth anyone who reaches the MLflow port can read and change runs",
        )
    state = dict(current.state)
    credentials = _admin_credentials(opts, state) if opts.auth else None
    with contextlib.ExitStack() as undo:
        if not layout.root.exists():
            layout.root.mkdir(parents=True)
            undo.callback(shutil.rmtree, layout.root, ignore_errors=True)
        if current.mlflow is not None:  # running but not answering: restart it
            mlflow_proc.stop(current.mlflow, timeout=30)
        check_port(opts.host, opts.port, option="--port")
        if current.postgres_pid is None:
            pg_pid = _start_postgres(layout, opts, undo)
            pg_port = opts.pg_port
        else:
            pg_pid, pg_port = current.postgres_pid, postgres.running_port(layout) or opts.pg_port
        postgres.ensure_databases(layout, port=pg_port, databases=(MLFLOW_DB, OPTUNA_DB, AUTH_DB))
        extra = _auth_env(layout, opts, credentials, pg_port) if credentials is not None else {}
        layout.artifacts.mkdir(parents=True, exist_ok=True)
        backend = postgres_url(
            user=ROLE, host="127.0.0.1", port=pg_port, database=MLFLOW_DB, driver="postgresql+psycopg2"
        )
        cmd = mlflow_proc.command(
            backend_store_uri=backend,
            artifacts=layout.artifacts,
            host=opts.host,
            port=opts.port,
            workers=opts.workers,
            auth=opts.auth,
            allowed_hosts=opts.allowed_hosts,
        )
        server = mlflow_proc.start(layout, cmd, mlflow_proc.environment(os.environ, pgpass=layout.pgpass, extra=extra))
        undo.callback(_quietly, layout.mlflow_pid.unlink, missing_ok=True)
        undo.callback(_quietly, mlflow_proc.stop, server, timeout=30)
        mlflow_proc.wait_healthy(
            server, mlflow_proc.health_url(opts.host, opts.port), timeout=opts.timeout, log_path=layout.mlflow_log
        )
        state |= {
            "host": opts.host,
            "port": opts.port,
            "pg_port": pg_port,
            "postgres_pid": pg_pid,
            "mlflow_pid": server.pid,
            "mlflow_create_time": server.create_time,
            "auth": opts.auth,
            "artifacts": str(layout.artifacts),
            "pgpass": str(layout.pgpass),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **_urls(host=opts.host, port=opts.port, pg_port=pg_port),
        }
        if credentials is not None:
            state |= {ADMIN_CREATED: credentials.username, "auth_username": credentials.username}
        write_state(layout, state)
        undo.pop_all()
    return status(opts.folder), True


def stop(folder: Path, *, timeout: float = 30.0) -> list[str]:
    """Stop the MLflow server, then PostgreSQL; one report line per process."""
    current = status(folder)
    lines = []
    if current.mlflow is not None:
        lines.append(f"MLflow server (pid {current.mlflow.pid}): {mlflow_proc.stop(current.mlflow, timeout=timeout)}")
    current.layout.mlflow_pid.unlink(missing_ok=True)
    if current.postgres_pid is not None:
        lines.append(f"PostgreSQL (pid {current.postgres_pid}): {postgres.stop(current.layout, timeout=timeout)}")
    return lines
