"""``avsc server start --auth``: MLflow's ``basic-auth`` app and where its admin credentials come from.

MLflow (3.17) reads the app's settings from the INI file named by ``MLFLOW_AUTH_CONFIG_PATH``:
avsc writes ``<dir>/auth/basic_auth.ini`` with the users database (``mlflow_auth`` in the server's
PostgreSQL, password from ``PGPASSFILE``) and the permission every signed-in user has by default.
The first start creates the admin user from ``MLFLOW_AUTH_ADMIN_USERNAME`` /
``MLFLOW_AUTH_ADMIN_PASSWORD``, which avsc passes to the MLflow process in its environment only
(never on a command line, in a file or a log). They come from, in this order:

1. ``--credentials FILE``: lines ``username=...`` and ``password=...`` (``#`` comments); the file
   must not be readable by group or others;
2. the environment variables ``MLFLOW_AUTH_ADMIN_USERNAME`` and ``MLFLOW_AUTH_ADMIN_PASSWORD``.

The username defaults to ``admin``. The password (12 characters at least, MLflow's rule) is
needed only until the admin user exists; MLflow ignores it afterwards (change it through MLflow's
``update-password`` API). The app also needs a static Flask secret key (CSRF protection): avsc
generates one in ``<dir>/secrets/``.

Clients sign in with ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from avsc.errors import AvscError

USERNAME_ENV = "MLFLOW_AUTH_ADMIN_USERNAME"
PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"
DEFAULT_USERNAME = "admin"
MIN_PASSWORD = 12  # mlflow.utils.validation._validate_password
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")


@dataclass(frozen=True)
class Credentials:
    """The admin's name and password; the password never appears in ``repr``."""

    username: str
    password: str | None = field(default=None, repr=False)
    source: str = "environment"


def _parse_file(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise AvscError(f"{path}: cannot read the credentials file ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AvscError(f"{path}: the credentials file is readable by other users; chmod 600 it")
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("username", "password"):
            raise AvscError(f"{path}:{number}: expected `username=...` or `password=...`")
        values[key] = value.strip()
    return values


def read_credentials(
    file: Path | None, env: Mapping[str, str] | None = None, *, default_username: str = DEFAULT_USERNAME
) -> Credentials:
    """The admin credentials from ``file`` or the environment (module docstring); one line on a mistake.

    ``default_username`` is the name when neither gives one (the admin a previous start created).
    """
    env = os.environ if env is None else env
    if file is not None:
        values = _parse_file(file)
        username = values.get("username") or default_username
        password = values.get("password") or None
        source = str(file)
    else:
        username = env.get(USERNAME_ENV) or default_username
        password = env.get(PASSWORD_ENV) or None
        source = "environment"
    if password is not None and len(password) < MIN_PASSWORD:
        raise AvscError(f"the admin password from {source} is shorter than {MIN_PASSWORD} characters (MLflow's rule)")
    return Credentials(username=username, password=password, source=source)


def ini_text(*, database_uri: str, default_permission: str) -> str:
    """MLflow's basic-auth settings (no password: the database URI has none, libpq reads PGPASSFILE)."""
    if default_permission not in PERMISSIONS:
        raise AvscError(f"--auth-default-permission {default_permission!r}: expected one of {', '.join(PERMISSIONS)}")
    return (
        "# written by avsc server start --auth; the admin user comes from MLFLOW_AUTH_ADMIN_USERNAME /\n"
        "# MLFLOW_AUTH_ADMIN_PASSWORD in the MLflow process's environment (never stored here)\n"
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = {database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def server_env(credentials: Credentials, *, ini_path: Path, secret_key: str) -> dict[str, str]:
    """Environment variables of the MLflow process for the basic-auth app."""
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini_path),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret_key,
        USERNAME_ENV: credentials.username,
    }
    if credentials.password is not None:
        env[PASSWORD_ENV] = credentials.password
    return env
