"""Fixtures for the tracking tests: a private copy of the trained workspace's MLflow store, a real server.

``trained_workspace`` itself lives in tests/conftest.py (the evaluation and predict tests share it).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest


@pytest.fixture
def registry_store(trained_workspace, tmp_path, monkeypatch) -> str:
    """A per-test copy of the trained store (artifacts are shared, referenced by absolute URIs).

    Registry tests move aliases and add versions; the copy keeps the session store untouched.
    Returns the tracking URI of the copy (already set in ``MLFLOW_TRACKING_URI``).
    """
    trained_workspace.use(monkeypatch)
    src_db = Path(trained_workspace.tracking_uri.removeprefix("sqlite:///"))
    dst_db = tmp_path / "store" / "mlflow.db"
    dst_db.parent.mkdir()
    src, dst = sqlite3.connect(src_db), sqlite3.connect(dst_db)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    uri = f"sqlite:///{dst_db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(port: int, store: Path) -> subprocess.Popen:
    """``mlflow server`` on 127.0.0.1:``port`` with its SQLite store and artifacts in ``store``; waits until healthy."""
    store.mkdir(exist_ok=True)
    cmd = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{store}/mlflow.db",
        "--artifacts-destination",
        str(store / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log_path = store / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    end = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                stop_group(proc)
                pytest.fail(f"mlflow server did not start: {log_path.read_text()[-1500:]}")
            time.sleep(0.5)


@pytest.fixture
def mlflow_server(tmp_path):
    """A plain ``mlflow server`` (SQLite store) on 127.0.0.1; clients send credentials it ignores."""
    port = free_port()
    store = tmp_path / "server"
    proc = start_mlflow_server(port, store)
    try:
        yield port, store
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (its workers too), SIGKILL after 10 s."""
    import signal

    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def server_tools() -> SimpleNamespace:
    """``free_port``, ``start`` (:func:`start_mlflow_server`) and ``stop`` (:func:`stop_group`) for tests that
    stop and restart a server themselves (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(free_port=free_port, start=start_mlflow_server, stop=stop_group)
