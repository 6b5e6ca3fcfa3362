"""Where ``--auth`` takes the admin credentials from, and what it writes (never the password)."""

from __future__ import annotations

import os

import pytest

from avsc.errors import AvscError
from avsc.tracking.server.auth import Credentials, ini_text, read_credentials, server_env

PASSWORD = "correct-horse-battery"


def _file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "admin.cred"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_credentials_from_a_private_file(tmp_path):
    path = _file(tmp_path, f"# team admin\nusername = alice\npassword={PASSWORD}\n")
    creds = read_credentials(path, env={})
    assert (creds.username, creds.password, creds.source) == ("alice", PASSWORD, str(path))
    assert PASSWORD not in repr(creds)


def test_credentials_file_readable_by_others_is_refused(tmp_path):
    path = _file(tmp_path, f"password={PASSWORD}\n", mode=0o644)
    with pytest.raises(AvscError, match="readable by other users; chmod 600"):
        read_credentials(path, env={})


def test_credentials_file_with_an_unknown_line_names_it(tmp_path):
    path = _file(tmp_path, f"username=alice\npasword={PASSWORD}\n")
    with pytest.raises(AvscError, match=r"admin.cred:2: expected `username=\.\.\.` or `password=\.\.\.`"):
        read_credentials(path, env={})


def test_credentials_from_mlflow_environment_variables():
    env = {"MLFLOW_AUTH_ADMIN_USERNAME": "bob", "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD}
    assert read_credentials(None, env=env) == Credentials("bob", PASSWORD, "environment")
    assert read_credentials(None, env={}) == Credentials("admin", None, "environment")


def test_short_password_is_refused_without_showing_it():
    with pytest.raises(AvscError, match="shorter than 12 characters") as err:
        read_credentials(None, env={"MLFLOW_AUTH_ADMIN_PASSWORD": "tooshort"})
    assert "tooshort" not in str(err.value)


def test_ini_and_environment():
    text = ini_text(database_uri="postgresql+psycopg2://avsc@127.0.0.1:5433/mlflow_auth", default_permission="READ")
    assert "default_permission = READ" in text
    assert "database_uri = postgresql+psycopg2://avsc@127.0.0.1:5433/mlflow_auth" in text
    assert "admin_password" not in text.split("[mlflow]")[1]
    with pytest.raises(AvscError, match="expected one of READ, EDIT, MANAGE, NO_PERMISSIONS"):
        ini_text(database_uri="sqlite://", default_permission="ALL")
    env = server_env(Credentials("alice", PASSWORD), ini_path=tmp_ini(), secret_key="k")
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == "alice" and env["MLFLOW_AUTH_ADMIN_PASSWORD"] == PASSWORD
    assert env["MLFLOW_AUTH_CONFIG_PATH"].endswith("basic_auth.ini") and env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "k"
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in server_env(Credentials("alice"), ini_path=tmp_ini(), secret_key="k")


def tmp_ini():
    from pathlib import Path

    return Path("/srv/avsc/auth/basic_auth.ini")
