"""Passwords in URLs, hidden: the one redaction of avsc (stdlib only, so every entry point can use it).

:func:`redact_url` masks the password of one URL (user part or query parameter); :func:`redact_text`
masks every URL's password inside free text (log records, error lines). Re-exported by
:mod:`avsc.tracking.service` and :mod:`avsc.tracking.server.urls`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Query parameters that libpq and SQLAlchemy accept as a password.
SECRET_QUERY_KEYS = frozenset({"password", "pass", "passwd", "pwd", "sslpassword"})


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
