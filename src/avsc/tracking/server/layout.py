"""What ``avsc server`` keeps in its folder (``--dir``, default ``.avsc-server``), and its private files.

::

    <dir>/
      server.json            what runs: pids, ports, URLs (no secrets), written atomically
      mlflow.pid             the MLflow server's pid (its process group holds uvicorn and its workers)
      logs/mlflow.log        the MLflow server's output, appended at every start
      artifacts/             the MLflow server's artifact destination (proxied artifacts)
      pgpass                 libpq password file of the ``avsc`` database role (mode 0600)
      secrets/               mode 0700: the PostgreSQL superuser's password, the basic-auth app's
                             Flask secret key
      auth/basic_auth.ini    MLflow basic-auth configuration (no password in it), with --auth
      postgres/              owned by the ``postgres`` user when we are root
        data/                the PostgreSQL cluster (postmaster.pid while it runs)
        postgres.log         PostgreSQL's log
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsc.io import atomic_write_text, fsync_dir

#: The database role the MLflow server and Optuna workers use (the owner of their databases).
ROLE = "avsc"
#: Databases of the cluster: the MLflow tracking + registry store, Optuna's studies, the basic-auth users.
MLFLOW_DB, OPTUNA_DB, AUTH_DB = "mlflow", "optuna", "mlflow_auth"


@dataclass(frozen=True)
class Layout:
    """Paths under the server folder (see the module docstring)."""

    root: Path

    @classmethod
    def at(cls, folder: Path | str) -> Layout:
        return cls(Path(folder).expanduser().resolve())

    @property
    def state(self) -> Path:
        return self.root / "server.json"

    @property
    def mlflow_pid(self) -> Path:
        return self.root / "mlflow.pid"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def mlflow_log(self) -> Path:
        return self.logs / "mlflow.log"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def pgpass(self) -> Path:
        return self.root / "pgpass"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def superuser_password(self) -> Path:
        return self.secrets / "postgres-superuser-password"

    @property
    def flask_secret(self) -> Path:
        return self.secrets / "flask-secret-key"

    @property
    def auth_ini(self) -> Path:
        return self.root / "auth" / "basic_auth.ini"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.postgres / "data"

    @property
    def pg_log(self) -> Path:
        return self.postgres / "postgres.log"


def new_password() -> str:
    """A random password (URL- and pgpass-safe characters only)."""
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file only its owner can read (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) when missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def pgpass_line(*, port: int, user: str, password: str) -> str:
    """One line of a libpq password file: any host, this port, any database, ``user``."""
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:{port}:*:{user}:{escaped}\n"


def read_pgpass_password(path: Path, user: str) -> str | None:
    """The password of ``user`` in a pgpass file written by :func:`pgpass_line`."""
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        fields = line.replace("\\:", "\0").split(":")
        if len(fields) == 5 and fields[3] == user:
            return fields[4].replace("\0", ":").replace("\\\\", "\\")
    return None


def read_state(layout: Layout) -> dict[str, Any]:
    """``server.json`` or ``{}``."""
    try:
        return json.loads(layout.state.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_state(layout: Layout, state: dict[str, Any]) -> None:
    atomic_write_text(layout.state, json.dumps(state, indent=1, sort_keys=True) + "\n")
