"""Make sure ``data.root`` holds a dataset: ``python -m avsc.data.bootstrap``.

When ``data.root`` is the default ``data/tau-synthetic`` and has no ``meta.csv``, the embedded
synthetic sample is written there from ``data.synthetic`` and ``base.seed``. A user-chosen
``data.root`` is never created or modified: when it holds no ``meta.csv`` the command fails with
one line (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from avsc.config.settings import DataSection, Params, find_root, load_params
from avsc.errors import AvscError, DataError

log = logging.getLogger("avsc.data.bootstrap")

DEFAULT_ROOT = DataSection().root


def resolve_root(*, params: Params, repo_root: Path) -> Path:
    """``data.root`` as an absolute path (relative paths are relative to the repository root)."""
    root = Path(params.data.root).expanduser()
    return (root if root.is_absolute() else repo_root / root).resolve()


def is_default_root(*, data_root: Path, repo_root: Path) -> bool:
    """Whether ``data_root`` is the embedded sample's folder, ``<repo>/data/tau-synthetic``."""
    return data_root.resolve() == (repo_root / DEFAULT_ROOT).resolve()


def ensure_dataset(*, params: Params, repo_root: Path) -> Path:
    """Return the dataset folder, synthesising the default sample when it is missing.

    Raises
    ------
    DataError
        A user-chosen ``data.root`` has no ``meta.csv``, or the default folder exists with other
        content but no ``meta.csv``.
    """
    data_root = resolve_root(params=params, repo_root=repo_root)
    if (data_root / "meta.csv").is_file():
        log.info("dataset present: %s", data_root)
        return data_root
    if not is_default_root(data_root=data_root, repo_root=repo_root):
        raise DataError(
            f"{data_root}: data.root has no meta.csv; point data.root in params.yaml at a TAU Urban "
            f"Audio-Visual Scenes 2021 copy, or use the default {DEFAULT_ROOT} for the synthetic sample"
        )
    from avsc.data.synth import SynthConfig, synthesize

    s = params.data.synthetic
    config = SynthConfig(out=data_root, clips_per_class=s.clips_per_class, seed=params.base.seed,
                         duration_s=s.duration_s, cities=s.cities, video_width=s.video_width,
                         video_height=s.video_height, video_fps=s.video_fps)
    log.info("no dataset at %s: writing the synthetic sample (seed %d)", data_root, params.base.seed)
    return synthesize(config)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from avsc.logs import setup_logging

    parser = argparse.ArgumentParser(prog="python -m avsc.data.bootstrap",
                                     description="Create the synthetic sample at data.root when it is the "
                                     "default path and holds no dataset.")
    parser.add_argument("--params", type=Path, default=None, help="params file (default: params.yaml at the repo root)")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        repo_root = args.params.resolve().parent if args.params else find_root()
        params = load_params(args.params)
        ensure_dataset(params=params, repo_root=repo_root)
    except AvscError as exc:
        print(f"avsc bootstrap: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
