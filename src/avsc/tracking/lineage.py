"""Lineage of a run: the DVC hashes of the stage outputs it read, and the DVC experiment it belongs to."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from avsc.config.settings import find_root

#: Outputs that are reports, not inputs of later stages.
REPORT_SUFFIXES = (".png", "history.json", "metrics.json")


def dvc_lineage(stages: tuple[str, ...], root: Path | None = None) -> dict[str, str]:
    """``dvc.<stage>.<out>`` → md5 of upstream outputs, read from ``dvc.lock``."""
    lock = (root or find_root()) / "dvc.lock"
    if not lock.is_file():
        return {}
    data = yaml.safe_load(lock.read_text()) or {}
    tags = {}
    for stage in stages:
        for out in (data.get("stages", {}).get(stage, {}) or {}).get("outs", []) or []:
            if out["path"].endswith(REPORT_SUFFIXES):
                continue
            tags[f"dvc.{stage}.{out['path']}"] = out.get("md5", "")
    return tags


def dvc_experiment() -> str | None:
    """The DVC experiment's name when DVC runs this stage for ``dvc exp run`` (``DVC_EXP_NAME``)."""
    return os.environ.get("DVC_EXP_NAME") or None
