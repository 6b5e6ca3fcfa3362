"""Redaction and host handling of the team server's URLs."""

from __future__ import annotations

import pytest

from avsc.secrets import has_password, redact_url
from avsc.tracking.server.urls import (
    check_host,
    http_url,
    is_loopback,
    postgres_url,
    public_host,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://avsc:s3cret@db:5433/optuna", "postgresql://avsc:***@db:5433/optuna"),
        ("postgresql+psycopg2://u:p%40ss@h/db?sslmode=require", "postgresql+psycopg2://u:***@h/db?sslmode=require"),
        ("postgresql://u:pa@ss@h/db", "postgresql://u:***@h/db"),  # an unencoded @ in the password
        ("http://admin:hunter2hunter2@127.0.0.1:5000", "http://admin:***@127.0.0.1:5000"),
        ("postgresql://h/db?user=u&password=s3cret", "postgresql://h/db?user=u&password=***"),
        ("postgresql://h/db?PWD=s3cret", "postgresql://h/db?PWD=***"),
    ],
)
def test_redact_masks_every_password(url, shown):
    assert redact_url(url) == shown
    assert has_password(url)
    assert "s3cret" not in redact_url(url) and "hunter2" not in redact_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/mlruns/mlflow.db",  # four slashes survive
        "postgresql://avsc@127.0.0.1:5433/optuna",
        "http://127.0.0.1:5000",
        "journal:mlruns/optuna-journal.log",
        "mlflow-artifacts:/3/abc/artifacts",
    ],
)
def test_redact_leaves_urls_without_password_as_they_are(url):
    assert redact_url(url) == url
    assert not has_password(url)


def test_normalize_db_url_uses_the_installed_driver():
    import importlib.util

    from avsc.tracking.service import normalize_db_url

    url = normalize_db_url("postgresql://avsc@h:5433/mlflow")
    if importlib.util.find_spec("psycopg") is None:
        assert url == "postgresql+psycopg2://avsc@h:5433/mlflow"
    else:
        assert url == "postgresql://avsc@h:5433/mlflow"
    assert normalize_db_url("sqlite:////x.db") == "sqlite:////x.db"
    assert normalize_db_url("http://h:5000") == "http://h:5000"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::1", "my-host.lan", "10.0.0.5"])
def test_check_host_accepts_names_and_addresses(host):
    assert check_host(host) == host


@pytest.mark.parametrize("host", ["", "127.0.0.1 -c shared_preload_libraries=x", "h;rm -rf /", "$(id)", "a'b"])
def test_check_host_refuses_anything_a_shell_would_interpret(host):
    with pytest.raises(ValueError, match="--host"):
        check_host(host)


def test_loopback_and_public_names():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("example.org")
    import socket

    assert public_host("0.0.0.0") == socket.gethostname()
    assert public_host("10.0.0.5") == "10.0.0.5"


def test_urls_built_by_the_server_have_no_password():
    assert http_url("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert http_url("::1", 5000) == "http://[::1]:5000"
    url = postgres_url(user="avsc", host="10.0.0.5", port=5433, database="optuna")
    assert url == "postgresql://avsc@10.0.0.5:5433/optuna"
    assert not has_password(url)


def test_hide_secrets_in_error_messages():
    from avsc.secrets import hide_secrets

    url = "postgresql://avsc:s3cret-pw@db:5433/mlflow?password=s3cret-pw"
    text = f"could not connect to {url}: password authentication failed (password s3cret-pw)"
    shown = hide_secrets(text, url)
    assert "s3cret" not in shown
    assert shown.startswith("could not connect to postgresql://avsc:***@db:5433/mlflow")
    assert hide_secrets("plain message", "postgresql://avsc@db/mlflow") == "plain message"
