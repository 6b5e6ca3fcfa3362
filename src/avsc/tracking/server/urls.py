"""URLs of the team server, and how they are shown: never with a password.

Every URL that avsc prints or logs for team mode goes through :func:`redact_url`. The URLs that
``avsc server`` builds carry no password at all: PostgreSQL clients read it from the server's
``pgpass`` file (``PGPASSFILE``), MLflow clients from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Query parameters that libpq and SQLAlchemy accept as a password.
SECRET_QUERY_KEYS = frozenset({"password", "pass", "passwd", "pwd", "sslpassword"})

#: Host names avsc accepts for ``--host`` (they reach a shell command line of pg_ctl).
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-:]+$")


def redact_url(url: str) -> str:
    """``url`` with the password of its user part and any password query parameter replaced by ``***``.

    Anything that does not parse as a URL is returned with everything up to its last ``@`` masked,
    so a malformed URL with a secret is never shown whole.
    """
    try:
        parts = urlsplit(url)
        netloc, query = parts.netloc, parts.query
        if "@" in netloc:
            userinfo, hostport = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}"
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
                query = urlencode([(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
        if (netloc, query) == (parts.netloc, parts.query):
            return url  # nothing secret (and sqlite:////abs keeps its slashes)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{MASK}@{url.rsplit('@', 1)[-1]}" if "@" in url else url


def hide_secrets(text: str, url: str) -> str:
    """``text`` (an error message about ``url``) with ``url``'s password and the URL itself masked."""
    text = text.replace(url, redact_url(url))
    try:
        parts = urlsplit(url)
        secrets = [parts.password or ""]
        secrets += [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_QUERY_KEYS]
    except ValueError:
        secrets = []
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


#: ``scheme://user:password@`` anywhere in a text, and password query parameters.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*):([^\s/]+)@")
_QUERY_SECRET_RE = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_QUERY_KEYS)) + r")=)[^&\s'\"]+")


def redact_text(text: str) -> str:
    """``text`` (a log line, an error message) with the password of every URL in it replaced by ``***``."""
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _QUERY_SECRET_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password (in its user part or a query parameter)."""
    return redact_url(url) != url


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
