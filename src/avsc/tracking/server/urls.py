"""URLs of the team server, and how they are shown: never with a password.

Every URL that avsc prints or logs for team mode goes through :func:`avsc.secrets.redact_url`. The URLs that
``avsc server`` builds carry no password at all: PostgreSQL clients read it from the server's
``pgpass`` file (``PGPASSFILE``), MLflow clients from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import ipaddress
import re
import socket

#: Host names avsc accepts for ``--host`` (they reach a shell command line of pg_ctl).
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-:]+$")


def check_host(host: str) -> str:
    """``host`` when it is a plain host name or IP address (letters, digits, ``.-:``), else ``ValueError``."""
    if not host or not _HOST_RE.match(host):
        raise ValueError(f"--host {host!r}: expected a host name or an IP address")
    return host


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """``0.0.0.0`` or ``::``: every interface of the machine."""
    return host in ("0.0.0.0", "::")


def local_address(host: str) -> str:
    """Where a process on this machine reaches a server bound to ``host``."""
    return "127.0.0.1" if is_wildcard(host) else host


def public_host(host: str) -> str:
    """The name other machines use for a server bound to ``host`` (the machine's name for a wildcard)."""
    return socket.gethostname() if is_wildcard(host) else host


def http_url(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 literals in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def postgres_url(*, user: str, host: str, port: int, database: str, driver: str = "postgresql") -> str:
    """A PostgreSQL URL without a password (libpq finds it in ``PGPASSFILE``)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{driver}://{user}@{shown}:{port}/{database}"
