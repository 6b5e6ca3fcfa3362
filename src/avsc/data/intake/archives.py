"""The archives of a dataset release: names, sizes and MD5 checksums, read from a JSON list.

The official list of TAU Urban Audio-Visual Scenes 2021 development (Zenodo record 4477542) ships
with the package (``tau2021_development.json``, its source noted in the file). ``--archives FILE``
reads another list in the same format::

    {"base_url": "https://host/files/{name}",      # optional; {name} is the archive's file name
     "archives": [{"name": "x.zip", "bytes": 123, "md5": "..."}]}   # bytes may be null (unknown)
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from avsc.errors import ConfigError

OFFICIAL = "tau2021_development.json"
MD5 = re.compile(r"^[0-9a-f]{32}$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Archive:
    """One archive: its file name, size in bytes (None when unknown) and MD5."""

    name: str
    size: int | None
    md5: str


@dataclass(frozen=True)
class ArchiveList:
    base_url: str | None
    archives: tuple[Archive, ...]
    source: str

    def url(self, archive: Archive, *, base_url: str | None = None) -> str:
        """The archive's URL: ``base_url`` (``{name}`` is replaced, else the name is appended)."""
        base = base_url or self.base_url
        if not base:
            raise ConfigError(f"{self.source}: no base_url; give --base-url")
        name = quote(archive.name)
        return base.replace("{name}", name) if "{name}" in base else f"{base.rstrip('/')}/{name}"

    def select(self, patterns: list[str] | None) -> tuple[Archive, ...]:
        """The archives whose name matches one of the shell ``patterns`` (all when there are none)."""
        if not patterns:
            return self.archives
        chosen = tuple(a for a in self.archives if any(fnmatch.fnmatchcase(a.name, p) for p in patterns))
        if not chosen:
            raise ConfigError(f"--only {' '.join(patterns)}: matches none of the {len(self.archives)} archives")
        return chosen


def parse_archive_list(doc: object, *, source: str) -> ArchiveList:
    """Check a decoded list (see the module docstring); one-line :class:`ConfigError` naming the entry."""
    if not isinstance(doc, dict) or not isinstance(doc.get("archives"), list) or not doc["archives"]:
        raise ConfigError(f"{source}: expected an object with a non-empty 'archives' list")
    archives = []
    for i, item in enumerate(doc["archives"]):
        where = f"{source}: archives[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected an object with name, bytes and md5")
        name, size, md5 = item.get("name"), item.get("bytes"), item.get("md5")
        if not isinstance(name, str) or not SAFE_NAME.match(name):
            raise ConfigError(f"{where}: name must be a plain file name, got {name!r}")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ConfigError(f"{where} ({name}): bytes must be a non-negative integer or null")
        if not isinstance(md5, str) or not MD5.match(md5.lower()):
            raise ConfigError(f"{where} ({name}): md5 must be 32 hexadecimal digits")
        archives.append(Archive(name=name, size=size, md5=md5.lower()))
    names = [a.name for a in archives]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: an archive name appears twice")
    base_url = doc.get("base_url")
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigError(f"{source}: base_url must be a string")
    return ArchiveList(base_url=base_url, archives=tuple(archives), source=source)


def load_archive_list(path: Path | None = None) -> ArchiveList:
    """The list in ``path``, or the official one shipped with avsc."""
    if path is None:
        text = resources.files("avsc.data.intake").joinpath(OFFICIAL).read_text()
        source = f"avsc/data/intake/{OFFICIAL}"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the archive list ({exc.strerror})") from None
        source = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return parse_archive_list(doc, source=source)
