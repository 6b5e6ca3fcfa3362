"""``avsc data download --dest DIR``: fetch, verify and unpack the official TAU 2021 development archives.

Per archive (the list: :mod:`avsc.data.intake.archives`): fetch it resumably into
``DIR/archives/<name>`` and check its published size and MD5 (:mod:`avsc.data.intake.fetch`),
unpack it safely under ``DIR`` (:mod:`avsc.data.intake.extract`), write the done-marker
``DIR/archives/<name>.done``, and delete the archive unless ``--keep-archives``. A re-run skips every
archive whose marker is there and resumes the one that was interrupted. The official archives hold
the folder ``TAU-urban-audio-visual-scenes-2021-development/``; once complete, it is what
``avsc data add`` takes.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from avsc.data.intake.archives import Archive, ArchiveList, load_archive_list
from avsc.data.intake.extract import extract_zip
from avsc.data.intake.fetch import fetch, file_md5, part_path
from avsc.data.intake.layout import check_layout
from avsc.errors import DataError
from avsc.io import atomic_write_text

log = logging.getLogger(__name__)

ARCHIVES_DIR = "archives"


def marker_path(dest: Path, archive: Archive) -> Path:
    return dest / ARCHIVES_DIR / f"{archive.name}.done"


def is_done(dest: Path, archive: Archive) -> bool:
    """The archive was fetched, verified and unpacked under ``dest`` (its marker names the same MD5)."""
    marker = marker_path(dest, archive)
    try:
        return json.loads(marker.read_text()).get("md5") == archive.md5
    except (OSError, ValueError, AttributeError):
        return False


def _verified_archive(path: Path, archive: Archive) -> bool:
    """An archive kept from an earlier run is still the published one."""
    if archive.size is not None and path.stat().st_size != archive.size:
        return False
    return file_md5(path, desc=f"verify {archive.name}") == archive.md5


def download_one(
    listing: ArchiveList,
    archive: Archive,
    dest: Path,
    *,
    base_url: str | None = None,
    keep_archive: bool = False,
    retries: int = 5,
    timeout: float = 60.0,
) -> list[str]:
    """Fetch, verify and unpack one archive under ``dest``; returns its top-level names."""
    path = dest / ARCHIVES_DIR / archive.name
    if path.is_file() and not _verified_archive(path, archive):
        log.warning("%s: does not match the published checksum; fetching it again", path)
        path.unlink()
    if not path.is_file():
        fetch(
            listing.url(archive, base_url=base_url),
            path,
            md5=archive.md5,
            size=archive.size,
            retries=retries,
            timeout=timeout,
        )
    tops = extract_zip(path, dest)
    record = {"name": archive.name, "md5": archive.md5, "bytes": path.stat().st_size, "top": tops}
    atomic_write_text(marker_path(dest, archive), json.dumps(record, indent=2) + "\n")
    if not keep_archive:
        path.unlink()
    return tops


def download(
    dest: Path,
    *,
    archives_file: Path | None = None,
    base_url: str | None = None,
    only: list[str] | None = None,
    keep_archives: bool = False,
    retries: int = 5,
    timeout: float = 60.0,
) -> list[Path]:
    """Download the selected archives under ``dest``; returns the top-level folders they unpacked to.

    Raises
    ------
    DataError
        An archive could not be fetched (interrupted past the retries: run again to resume), is
        corrupt (deleted; run again), or holds an unsafe member.
    ConfigError
        A bad archive list or ``--only`` pattern.
    """
    listing = load_archive_list(archives_file)
    chosen = listing.select(only)
    dest.mkdir(parents=True, exist_ok=True)
    todo = [a for a in chosen if not is_done(dest, a)]
    for archive in chosen:
        if archive not in todo:
            log.info("%s: already downloaded and unpacked; skipped", archive.name)
    known = [a.size for a in todo]
    if todo and None not in known:
        need = sum(a.size or 0 for a in todo) - sum(
            part_path(dest / ARCHIVES_DIR / a.name).stat().st_size
            for a in todo
            if part_path(dest / ARCHIVES_DIR / a.name).is_file()
        )
        free = shutil.disk_usage(dest).free
        if need > free:
            log.warning("%s: %d bytes free, the archives alone need %d more", dest, free, need)
    tops: set[str] = set()
    for i, archive in enumerate(todo, start=1):
        log.info("archive %d of %d: %s", i, len(todo), archive.name)
        tops.update(
            download_one(
                listing,
                archive,
                dest,
                base_url=base_url,
                keep_archive=keep_archives,
                retries=retries,
                timeout=timeout,
            )
        )
    for archive in chosen:
        if archive not in todo:
            tops.update(json.loads(marker_path(dest, archive).read_text()).get("top") or [])
    return sorted(dest / t for t in tops if (dest / t).is_dir())


def cli_data_download(args) -> int:
    folders = download(
        args.dest,
        archives_file=args.archives,
        base_url=args.base_url,
        only=args.only,
        keep_archives=args.keep_archives,
        retries=args.retries,
    )
    if not folders:
        raise DataError(f"{args.dest}: the archives unpacked no folder")
    for folder in folders:
        try:
            check_layout(folder)
        except DataError as exc:
            print(f"{folder}: unpacked, not complete yet ({exc})")
        else:
            print(f"{folder}: complete TAU layout; next: avsc data add {folder}")
    return 0
