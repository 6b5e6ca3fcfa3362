"""``avsc data add`` and ``avsc data download``: their arguments (the work is in :mod:`.add` and :mod:`.download`)."""

from __future__ import annotations

from pathlib import Path


def add_parsers(sub, command) -> None:
    """Add the ``data`` group to the ``avsc`` sub-commands; ``command`` makes a lazy target."""
    p = sub.add_parser(
        "data",
        help="bring a real TAU Urban Audio-Visual Scenes 2021 copy into the project (add, download)",
        description="Put a real TAU Urban Audio-Visual Scenes 2021 development copy under DVC "
        "(`avsc data add`), or fetch the official archives first (`avsc data download`).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser(
        "add",
        help="track a TAU copy with DVC as data/<name> (copy-on-write where possible) and set data.root",
        description="Check PATH's TAU layout, fill data/<name> with copy-on-write clones of its files "
        "(reflink; a plain copy where the filesystem cannot clone, announced with its size), set the "
        "repository's DVC cache link types, `dvc add data/<name>`, and set data.root in params.yaml. "
        "The files under PATH are only read: never modified, moved, hard-linked or deleted. Resumable: "
        "run it again after an interruption. With --reference nothing is copied: data.root becomes "
        "PATH's absolute path (hashed by DVC in place, not pushed to remotes).",
    )
    a.add_argument("path", type=Path, metavar="PATH", help="the dataset folder (holds meta.csv, audio/, video/)")
    a.add_argument("--name", default="tau", help="folder name under data/ (default tau: data/tau)")
    a.add_argument(
        "--reference",
        action="store_true",
        help="no copy: set data.root to PATH's absolute path (not in DVC's cache, not pushed)",
    )
    a.add_argument("--dry-run", action="store_true", help="report what would be cloned or copied, change nothing")
    a.set_defaults(func=command("avsc.data.intake.add:cli_data_add"))

    d = actions.add_parser(
        "download",
        help="fetch the official TAU 2021 development archives (Zenodo 4477542), verified and unpacked",
        description="Fetch the TAU Urban Audio-Visual Scenes 2021 development archives (Zenodo record "
        "4477542, about 108 GB) with their published MD5 checksums: resumable (HTTP Range), verified, "
        "unpacked under DEST (no member may land outside it), a done-marker per archive so a re-run "
        "skips finished ones. Then `avsc data add DEST/TAU-urban-audio-visual-scenes-2021-development`.",
    )
    d.add_argument("--dest", type=Path, required=True, help="download folder (archives/ and the unpacked dataset)")
    d.add_argument(
        "--base-url",
        default=None,
        help="where the archives are: {name} is replaced by the file name, else it is appended "
        "(default: the list's, https://zenodo.org/records/4477542/files/{name}?download=1)",
    )
    d.add_argument(
        "--archives",
        type=Path,
        default=None,
        help="JSON list of archives (name, bytes, md5; see avsc/data/intake/archives.py); default: the official one",
    )
    d.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="PATTERN",
        help="only archives whose name matches this shell pattern, e.g. '*meta*' or '*audio.1.zip' (repeatable)",
    )
    d.add_argument("--keep-archives", action="store_true", help="keep the zip files after unpacking them")
    d.add_argument("--retries", type=int, default=5, help="retries of a dropped transfer, each resuming it (default 5)")
    d.set_defaults(func=command("avsc.data.intake.download:cli_data_download"))
