"""The ``prepare`` stage: index a TAU dataset into a manifest with content hashes and splits.

The manifest is the single source of truth downstream: the split of every clip (train,
validation, evaluate), the MD5 of every media file and a dataset hash over all of them. A change
to any media file changes the manifest, so DVC re-runs every stage after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from avsc.config.settings import Params, find_root, load_params
from avsc.data.paths import NOT_REGULAR
from avsc.data.tau import TauDataset, load_dataset
from avsc.errors import DataError
from avsc.io import atomic_write_text

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


def file_md5(path: Path, *, chunk: int = 1 << 20) -> str:
    """MD5 of a regular file's content (the hash DVC uses too).

    The file is opened without blocking and checked to be a regular file before it is read, so a
    name swapped for a FIFO or a device after :func:`avsc.data.tau.load_dataset` checked it is
    refused instead of hanging.
    """
    digest = hashlib.md5()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError(f"{path}: {NOT_REGULAR}")
    with os.fdopen(fd, "rb") as handle:
        try:
            while block := handle.read(chunk):
                digest.update(block)
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    return digest.hexdigest()


def build_manifest(dataset: TauDataset, *, workers: int = 2) -> dict:
    """Manifest of a dataset: clips with split, scene, location and the MD5 of each media file."""
    clips = dataset.all_clips()
    paths = sorted({p for col in ("filename_audio", "filename_video") for p in clips[col]})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        hashes = list(
            tqdm(
                pool.map(lambda p: file_md5(dataset.root / p), paths),
                total=len(paths),
                desc="hashing media",
                unit="file",
                leave=False,
            )
        )
    files = dict(zip(paths, hashes, strict=False))
    dataset_hash = hashlib.md5("".join(f"{p}:{h}\n" for p, h in files.items()).encode()).hexdigest()
    records = [
        {
            "clip": row.clip,
            "split": row.split,
            "scene_label": row.scene_label,
            "identifier": row.identifier,
            "city": row.city,
            "filename_audio": row.filename_audio,
            "filename_video": row.filename_video,
        }
        for row in clips.itertuples()
    ]
    counts = clips.groupby("split").size().to_dict()
    return {
        "version": MANIFEST_VERSION,
        "root": str(dataset.root),
        "synthetic": dataset.is_synthetic,
        "data": "synthetic" if dataset.is_synthetic else "tau",
        "dataset_hash": dataset_hash,
        "n_clips": len(records),
        "counts": {k: int(v) for k, v in counts.items()},
        "clips": records,
        "files": files,
    }


def read_manifest(path: Path | str) -> dict:
    """Read a manifest written by :func:`build_manifest`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found; run `dvc repro prepare` first")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not a valid manifest ({exc})") from None
    if manifest.get("version") != MANIFEST_VERSION:
        raise DataError(f"{path}: manifest version {manifest.get('version')} is not {MANIFEST_VERSION}")
    return manifest


def dataset_root(params: Params, root_dir: Path | None = None) -> Path:
    """``data.root`` resolved against the repository root."""
    root = Path(params.data.root)
    return root if root.is_absolute() else (root_dir or find_root()) / root


def prepare(params: Params, root_dir: Path | None = None) -> dict:
    """Run the prepare stage: index ``data.root`` and write ``data.manifest``."""
    root_dir = root_dir or find_root()
    dataset = load_dataset(
        dataset_root(params, root_dir), validation_fraction=params.data.validation_fraction, seed=params.base.seed
    )
    manifest = build_manifest(dataset)
    out = root_dir / params.data.manifest
    atomic_write_text(out, json.dumps(manifest, indent=1))
    label = "SYNTHETIC sample" if manifest["synthetic"] else "TAU dataset"
    log.info(
        "prepare: %s at %s: %d clips %s, dataset hash %s -> %s",
        label,
        dataset.root,
        manifest["n_clips"],
        manifest["counts"],
        manifest["dataset_hash"][:12],
        out,
    )
    return manifest


def cli_prepare(args) -> int:
    prepare(load_params(args.params))
    return 0
