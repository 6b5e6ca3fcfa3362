"""Fetch one file over HTTP(S), resumably, and verify it against its published size and MD5.

The bytes go to ``<name>.part``; a dropped connection, a timeout or a 5xx answer is retried with
an HTTP ``Range: bytes=<have>-`` request that continues the part file (a server that ignores the
range answers 200, and the part file starts over). An interrupted command keeps the part file, so
running it again resumes too. Only a complete file whose size and MD5 match is renamed to its
final name; a complete file that does not match is deleted and refused in one line.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from avsc import __version__
from avsc.errors import DataError
from avsc.io import fsync_dir

log = logging.getLogger(__name__)

CHUNK = 1 << 20
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class Interrupted(Exception):
    """The transfer stopped early in a way that a retry may fix (a dropped connection, a 5xx)."""


class NothingAfter(Exception):
    """HTTP 416 to a range request: the server has no byte after the offset; ``total`` is its length."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


def part_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def file_md5(path: Path, *, desc: str | None = None) -> str:
    """MD5 of a file, with a progress bar when ``desc`` is given."""
    digest = hashlib.md5()
    with (
        open(path, "rb") as handle,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=desc,
            disable=None if desc else True,
        ) as bar,
    ):
        while block := handle.read(CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


class PartFile:
    """The ``.part`` file and the MD5 of what it holds so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.md5 = hashlib.md5()
        self.length = 0
        if path.is_file():
            with open(path, "rb") as handle:
                while block := handle.read(CHUNK):
                    self.md5.update(block)
                    self.length += len(block)

    def restart(self) -> None:
        self.path.unlink(missing_ok=True)
        self.md5 = hashlib.md5()
        self.length = 0


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range`` header (None where absent or ``*``)."""
    match = CONTENT_RANGE.match((value or "").strip())
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"avsc/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            _start, total = _content_range(exc.headers.get("Content-Range"))
            exc.close()
            raise NothingAfter(total) from None
        if exc.code in RETRY_STATUS:
            raise Interrupted(f"HTTP {exc.code} {exc.reason}") from None
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise Interrupted(str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise Interrupted(f"{type(exc).__name__}: {exc}") from None


def _attempt(url: str, part: PartFile, *, size: int | None, timeout: float, bar: tqdm) -> None:
    """One request: append to ``part`` until the server's body ends; :class:`Interrupted` when it ends early."""
    if size is not None and part.length > size:
        part.restart()
        bar.reset(total=size)
    if size is not None and part.length == size:
        return
    try:
        resp = _open(url, part.length, timeout)
    except NothingAfter as exc:
        if exc.total == part.length:  # the part file is already whole
            return
        part.restart()
        bar.reset(total=size)
        raise Interrupted("the server cannot continue the partial file; starting over") from None
    with resp:
        if resp.status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != part.length:
                part.restart()
                bar.reset(total=size)
                raise Interrupted(f"the server resumed at byte {start}, not {part.length}; starting over")
        else:
            if part.length:
                log.info("%s: the server ignored the range request; starting over", url)
                part.restart()
                bar.reset(total=size)
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if size is not None and total is not None and total != size:
            part.restart()
            raise DataError(f"{url}: the server offers {total} bytes, the published size is {size}")
        if bar.total is None and total is not None:
            bar.total = total
            bar.refresh()
        expected = total - part.length if total is not None else None
        received = 0
        with open(part.path, "ab") as out:
            try:
                while block := resp.read(CHUNK):
                    out.write(block)
                    part.md5.update(block)
                    part.length += len(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:
                raise Interrupted(f"{type(exc).__name__}: {exc}") from None
            finally:
                out.flush()
                os.fsync(out.fileno())
        if expected is not None and received < expected:
            raise Interrupted(f"the connection closed after {part.length} of {total} bytes")


def fetch(
    url: str,
    path: Path,
    *,
    md5: str,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff_s: float = 2.0,
) -> Path:
    """Download ``url`` to ``path`` through ``path.part``, resuming it; returns ``path`` once verified.

    Raises
    ------
    DataError
        An HTTP error that a retry cannot fix; still interrupted after ``retries`` retries (the part
        file is kept: run again to resume); or the complete file's size or MD5 is not the published
        one (the file is deleted, nothing is left under ``path``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    part = PartFile(part_path(path))
    if part.length:
        log.info("%s: resuming at byte %d", path.name, part.length)
    failures = 0
    with tqdm(
        total=size, initial=part.length, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name, disable=None
    ) as bar:
        while True:
            try:
                _attempt(url, part, size=size, timeout=timeout, bar=bar)
                break
            except Interrupted as exc:
                failures += 1
                if failures > retries:
                    raise DataError(
                        f"{url}: download interrupted ({exc}); {part.length} bytes kept in {part.path}, "
                        "run the command again to resume"
                    ) from None
                wait = min(backoff_s * 2 ** (failures - 1), 60.0)
                log.warning("%s: %s; retrying from byte %d in %.0f s", path.name, exc, part.length, wait)
                time.sleep(wait)
    digest = part.md5.hexdigest()
    if (size is not None and part.length != size) or digest != md5:
        got = f"{part.length} bytes, MD5 {digest}"
        want = f"{size if size is not None else '?'} bytes, MD5 {md5}"
        part.restart()
        raise DataError(
            f"{path.name}: corrupt download ({got}; published: {want}); deleted, run again to fetch it anew"
        )
    os.replace(part.path, path)
    fsync_dir(path.parent)
    return path
