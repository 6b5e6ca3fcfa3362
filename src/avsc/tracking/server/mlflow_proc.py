"""The ``mlflow server`` process of the team server: command, environment, start, health, stop.

The server runs detached in its own session (``start_new_session``), so its process group holds
``mlflow server`` and everything it spawns (uvicorn and its workers); ``stop`` sends SIGTERM to that
group, waits, and kills it only when it does not stop in time. The pid file is checked against the
process's start time before any signal is sent, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from avsc.errors import AvscError
from avsc.tracking.server.layout import Layout
from avsc.tracking.server.urls import http_url, local_address

log = logging.getLogger(__name__)

#: Variables of the caller's environment that must not reach the server (client settings, old auth).
DROPPED_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_REGISTRY_STORE_URI",
    "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "MLFLOW_ARTIFACTS_DESTINATION",
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_AUTH_ADMIN_USERNAME",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
)


@dataclass(frozen=True)
class ServerProcess:
    """A started server: its pid (= process group id) and start time (guards against pid reuse)."""

    pid: int
    create_time: float


def command(
    *,
    backend_store_uri: str,
    artifacts: Path,
    host: str,
    port: int,
    workers: int,
    auth: bool,
    allowed_hosts: str | None = None,
) -> list[str]:
    """``mlflow server`` with a PostgreSQL backend store and proxied artifacts under ``artifacts``."""
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    if auth:
        cmd += ["--app-name", "basic-auth"]
    return cmd


def environment(base: Mapping[str, str], *, pgpass: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ``base`` without client/auth settings, plus PGPASSFILE and ``extra``.

    Telemetry is off (the server must not call out) and so is MLflow's job runner (GenAI scorer
    jobs, which avsc does not use: it would start seven more processes).
    """
    env = {k: v for k, v in base.items() if k not in DROPPED_ENV}
    env |= {
        "PGPASSFILE": str(pgpass),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "PYTHONUNBUFFERED": "1",
    }
    return env | dict(extra or {})


def start(layout: Layout, cmd: list[str], env: Mapping[str, str]) -> ServerProcess:
    """Start the server detached, output appended to ``logs/mlflow.log``; write ``mlflow.pid``."""
    import psutil

    layout.logs.mkdir(parents=True, exist_ok=True)
    with layout.mlflow_log.open("a") as out:
        out.write(f"\n==== avsc server start {time.strftime('%Y-%m-%dT%H:%M:%S%z')} ====\n")
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=layout.root,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServerProcess(proc.pid, psutil.Process(proc.pid).create_time())
    layout.mlflow_pid.write_text(f"{proc.pid}\n")
    return server


def health_url(host: str, port: int) -> str:
    return f"{http_url(local_address(host), port)}/health"


def healthy(url: str, *, timeout: float = 5.0) -> bool:
    """Whether ``GET url`` answers 200 (``/health`` needs no credentials, with or without --auth)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # http on this machine
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(server: ServerProcess, url: str, *, timeout: float, log_path: Path) -> None:
    """Wait until ``url`` answers; one-line error when the server exits or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(server):
            raise AvscError(f"the MLflow server exited during start-up: {error_line(log_path)} (log: {log_path})")
        if healthy(url, timeout=2.0):
            return
        time.sleep(0.5)
    raise AvscError(f"the MLflow server did not answer {url} within {timeout:g} s (log: {log_path})")


def error_line(path: Path) -> str:
    """The most telling line of the server's last start: the last error, else the last line."""
    try:
        text = path.read_text(errors="replace").rsplit("==== avsc server start", 1)[-1]
    except OSError:
        return "no log"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line for word in ("Error", "error:", "Exception", "address already in use")):
            return line[:300]
    return lines[-1][:300] if lines else "empty log"


def read_pidfile(layout: Layout, state_create_time: float | None) -> ServerProcess | None:
    """The server recorded in ``mlflow.pid`` (with the start time kept in server.json)."""
    try:
        pid = int(layout.mlflow_pid.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return ServerProcess(pid, state_create_time or 0.0)


def alive(server: ServerProcess) -> bool:
    """Whether the recorded server process still runs (same pid *and* start time)."""
    import psutil

    try:
        proc = psutil.Process(server.pid)
        return proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - server.create_time) < 1.0
    except psutil.Error:
        return False


def _group(pgid: int) -> list:
    import psutil

    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def stop(server: ServerProcess, *, timeout: float) -> str:
    """SIGTERM the server's process group, wait up to ``timeout`` s, then SIGKILL what is left."""
    if not alive(server):
        return "not running"
    pgid = server.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(server.pid)
        if not _group(pgid):
            return "stopped"
        time.sleep(0.2)
    left = _group(pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    _reap(server.pid)
    return f"killed ({len(left)} process(es) had not stopped {timeout:g} s after SIGTERM)"


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (started by this process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
