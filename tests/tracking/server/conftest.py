"""Fixtures for the team-server tests: free ports, a server folder PostgreSQL can reach, a running server.

The server is started and stopped with the real command (``python -m avsc server start|stop``) in a
folder under /tmp (the ``postgres`` user, which runs PostgreSQL when we are root, cannot enter
pytest's own tmp folders).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def postgres_missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, or ``None``."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return (
            "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb); "
            "the Debian package `postgresql` provides them (.ci/run installs it)"
        )
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` system user to run the server"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_base() -> Path:
    """A fresh folder under /tmp that the ``postgres`` user can enter."""
    base = Path(tempfile.mkdtemp(prefix="avsc-team-"))
    os.chmod(base, 0o755)
    return base


def avsc(*argv: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run ``python -m avsc ...`` with this worktree's code; return the completed process."""
    full_env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'pipelines'}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "avsc", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
    )


@dataclass
class TeamServer:
    """A running ``avsc server``: its folder and what ``server.json`` says."""

    folder: Path
    state: dict
    stdout: str

    @property
    def tracking_uri(self) -> str:
        return self.state["tracking_uri"]

    @property
    def optuna_storage(self) -> str:
        return self.state["optuna_storage"]

    @property
    def mlflow_db(self) -> str:
        return self.state["mlflow_db"]

    @property
    def artifacts(self) -> Path:
        return Path(self.state["artifacts"])

    @property
    def pgpass(self) -> Path:
        return Path(self.state["pgpass"])

    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "PGPASSFILE": str(self.pgpass)}

    def use(self, monkeypatch) -> None:
        """Point this test's MLflow client (and libpq) at the server."""
        for key, value in self.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AVSC_MLFLOW_ARTIFACTS", raising=False)


def start_server(folder: Path, *extra: str, env: dict | None = None) -> TeamServer:
    proc = avsc("server", "start", "--dir", str(folder), "--port", str(free_port()), *extra, env=env)
    assert proc.returncode == 0, f"avsc server start failed:\n{proc.stdout}\n{proc.stderr}"
    return TeamServer(folder, json.loads((folder / "server.json").read_text()), proc.stdout)


def stop_server(folder: Path) -> subprocess.CompletedProcess:
    return avsc("server", "stop", "--dir", str(folder))


class Tools:
    """The helpers above, for test modules (they cannot import a conftest under --import-mode=importlib)."""

    avsc = staticmethod(avsc)
    free_port = staticmethod(free_port)
    start_server = staticmethod(start_server)
    stop_server = staticmethod(stop_server)


@pytest.fixture(scope="session")
def tools() -> type[Tools]:
    return Tools


@pytest.fixture(scope="session")
def team_server():
    """One server for the session's tests that only use it (tune, migrate, the pipeline)."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    base = server_base()
    folder = base / "server"
    try:
        yield start_server(folder, "--pg-port", str(free_port()))
    finally:
        stop_server(folder)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fresh_server_base():
    """A folder for a test that starts and stops its own servers (removed afterwards)."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    base = server_base()
    try:
        yield base
    finally:
        for state in base.glob("*/server.json"):
            stop_server(state.parent)
        shutil.rmtree(base, ignore_errors=True)
