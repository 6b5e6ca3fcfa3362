"""``avsc data add PATH``: a TAU Urban Audio-Visual Scenes 2021 copy enters DVC with one command.

Default mode: the dataset becomes the DVC-tracked folder ``data/<name>`` of the repository
(``data/<name>.dvc``), so it is versioned, ``dvc push`` sends it to a remote, and DVC's temporary
experiment workspaces (``dvc exp run --queue`` / ``--temp``) check it out like any output.
``--reference`` instead points ``data.root`` at the folder where it is (absolute path): DVC hashes it
in place as an external dependency of ``prepare``; nothing is cached or pushed.

Link types and why the user's files are safe
--------------------------------------------
The user's files are only ever read. ``data/<name>`` is filled with copy-on-write *clones* of them
(reflink, the Linux ``FICLONE`` ioctl: Btrfs, XFS, bcachefs...): each clone is a new inode sharing
data blocks with the original, so 30+ GB enter the project in seconds and no space; whatever
happens to the clone later (DVC makes cached files read-only, a checkout replaces them) leaves the
original as it was. Where the filesystem cannot clone (ext4, another filesystem) the files are
copied, and the command says so with the size before it starts (``--dry-run`` only reports). A hard
link to a user's file is never made: it would be the user's inode, and DVC's read-only protection
of its cache would change the user's file.

Then the repository's DVC cache link types are set in ``.dvc/config`` to
``cache.type = reflink,hardlink,symlink`` (when the project config sets none): DVC's links only ever
join the cache and the project's own copies in ``data/<name>``, never the user's folder. DVC 3's
``dvc add`` hard-links a file into the cache only when ``hardlink`` comes *first* in
``cache.type``; with ``reflink`` first on a filesystem without reflinks it copies the file again.
So on such a machine ``.dvc/config.local`` (this machine only, not committed) gets
``cache.type = hardlink,symlink`` too, when it sets none: the cache and ``data/<name>`` then share
one copy, whose files DVC marks read-only (``dvc unprotect`` before editing one in place).

Resumable: each file is written under a temporary name, flushed and renamed when whole; a re-run
skips the files already there (same size and modification time), removes the temporary files an
interrupted run left, and carries on. Finally ``dvc add data/<name>`` runs, ``data.root`` in
``params.yaml`` is set (comments kept, :func:`avsc.config.edit.set_param`), and the ``git add``
line to run is printed.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from avsc.data.intake.clone import reflink_supported
from avsc.data.intake.dvc_repo import dvc_add, get_config, require_repo, set_config, stage_outputs
from avsc.data.intake.layout import check_layout
from avsc.data.intake.tree import CopyPlan, copy_tree, plan_copy
from avsc.errors import AvscError, ConfigError, DataError

log = logging.getLogger(__name__)

#: ``.dvc/config``: DVC's preference order, safe because links only join the cache and project copies.
CACHE_TYPES = "reflink,hardlink,symlink"
#: ``.dvc/config.local`` where reflinks are unsupported: ``dvc add`` links instead of copying again.
NO_REFLINK_CACHE_TYPES = "hardlink,symlink"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class AddReport:
    """What :func:`add_dataset` did (or, in a dry run, would do)."""

    target: str
    files: int
    total_bytes: int
    todo: int
    todo_bytes: int
    reflink: bool
    done: Counter
    dry_run: bool


def check_target(root: Path, source: Path, name: str) -> Path:
    """``root/data/<name>``, once it is a valid name that overlaps neither ``source`` nor a stage output."""
    if not NAME.match(name):
        raise ConfigError(f"--name {name!r}: use letters, digits, '.', '_' or '-', not starting with '.' or '-'")
    dest = root / "data" / name
    src, dst = source.resolve(), dest.resolve()
    if src == dst or src in dst.parents or dst in src.parents:
        raise DataError(
            f"{source}: overlaps data/{name}; keep the original outside data/{name}, "
            "or use --reference to leave it where it is"
        )
    for out in stage_outputs(root):
        path = (root / out).resolve()
        if path == dst or dst in path.parents or path in dst.parents:
            raise ConfigError(f"data/{name}: overlaps {out}, an output of a dvc.yaml stage; choose another --name")
    return dest


def _probe_folder(dest: Path, root: Path) -> Path:
    folder = dest
    while not folder.is_dir() and folder != root:
        folder = folder.parent
    return folder


def configure_cache(root: Path, *, reflink: bool) -> list[str]:
    """Set the repository's DVC link types (see the module docstring); returns what was set."""
    said = []
    project = get_config(root, "cache.type", level="project")
    if project is None:
        set_config(root, "cache.type", CACHE_TYPES, level="project")
        project = CACHE_TYPES
        said.append(f".dvc/config: cache.type = {CACHE_TYPES}")
    elif project != CACHE_TYPES:
        log.info(".dvc/config already sets cache.type = %s; kept", project)
    first = project.split(",")[0].strip()
    if not reflink and first == "reflink" and get_config(root, "cache.type", level="local") is None:
        set_config(root, "cache.type", NO_REFLINK_CACHE_TYPES, level="local")
        said.append(
            f".dvc/config.local: cache.type = {NO_REFLINK_CACHE_TYPES} (no reflinks here: the cache and "
            "data/ share one copy, read-only; `dvc unprotect` a file before editing it)"
        )
    return said


def describe_plan(plan: CopyPlan, *, reflink: bool, target: str) -> str:
    head = f"{plan.source} -> {target}: {len(plan.files)} files, {human_bytes(plan.total_bytes)}"
    if not plan.todo:
        return f"{head}; all already there"
    left = f"{len(plan.todo)} file(s), {human_bytes(plan.todo_bytes)}"
    if reflink:
        return f"{head}; {left} to clone (reflink: copy-on-write, no extra space)"
    return f"{head}; {left} to COPY: this filesystem cannot clone (reflink) them, so the copy takes that much space"


def add_dataset(source: Path, *, root: Path, params_path: Path, name: str = "tau", dry_run: bool = False) -> AddReport:
    """Copy-on-write clone (or copy) ``source`` to ``data/<name>``, ``dvc add`` it, set ``data.root``.

    Raises
    ------
    DataError
        ``source`` is not a complete TAU layout, overlaps the target, or ``data/<name>`` holds files
        that ``source`` does not; not enough free space for a plain copy.
    ConfigError
        Not a DVC repository, a bad ``name``, or ``data/<name>`` is a stage output.
    """
    from filelock import FileLock, Timeout

    from avsc.config.edit import set_param

    check_layout(source)
    require_repo(root)
    dest = check_target(root, source, name)
    target = f"data/{name}"
    plan = plan_copy(source, dest)
    for item in plan.skipped:
        log.warning("%s: left out: %s", source, item)
    sample = plan.todo[0] if plan.todo else plan.files[0]
    reflink = reflink_supported(source / sample.rel, _probe_folder(dest, root))
    print(describe_plan(plan, reflink=reflink, target=target))
    if plan.todo and not reflink:
        free = shutil.disk_usage(_probe_folder(dest, root)).free
        if free < plan.todo_bytes:
            raise DataError(
                f"{root / 'data'}: {human_bytes(free)} free, the copy needs {human_bytes(plan.todo_bytes)}; "
                "free some space or use --reference"
            )
    report = AddReport(
        target=target,
        files=len(plan.files),
        total_bytes=plan.total_bytes,
        todo=len(plan.todo),
        todo_bytes=plan.todo_bytes,
        reflink=reflink,
        done=Counter(),
        dry_run=dry_run,
    )
    if dry_run:
        return report
    lock_dir = root / ".dvc" / "tmp"
    lock_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(lock_dir / f"avsc-data-add-{name}.lock", timeout=0):
            done = copy_tree(plan)
            for line in configure_cache(root, reflink=reflink):
                print(line)
            dvc_add(root, target)
    except Timeout:
        raise AvscError(f"{target}: another `avsc data add` is filling it; wait for it to finish") from None
    old = set_param(params_path, "data.root", target)
    print(f"{params_path.name}: data.root = {target}" + (f" (was {old})" if old not in (None, target) else ""))
    print(f"To record it in git: git add {target}.dvc data/.gitignore {params_path.name}")
    return replace(report, done=done)


def reference_dataset(source: Path, *, params_path: Path) -> str:
    """Point ``data.root`` at ``source`` where it is (absolute path); nothing is copied or cached."""
    from avsc.config.edit import set_param

    check_layout(source)
    absolute = str(source.resolve())
    old = set_param(params_path, "data.root", absolute)
    print(f"{params_path.name}: data.root = {absolute}" + (f" (was {old})" if old not in (None, absolute) else ""))
    print(
        "A reference: DVC hashes the folder in place as a dependency of `prepare`; it is not in DVC's cache, "
        "`dvc push` does not send it, and queued or temporary experiments read it at this absolute path "
        "(other machines need the same path)."
    )
    return absolute


def cli_data_add(args) -> int:
    from avsc.config.settings import find_root

    root = find_root()
    params_path = args.params if args.params is not None else root / "params.yaml"
    if args.reference:
        if args.dry_run:
            check_layout(args.path)
            print(f"{args.path}: a TAU layout; --reference would set data.root = {args.path.resolve()}")
            return 0
        reference_dataset(args.path, params_path=params_path)
        return 0
    add_dataset(args.path, root=root, params_path=params_path, name=args.name, dry_run=args.dry_run)
    return 0
