"""The submission zip, laid out as the challenge's validator reads it.

``<Lastname>_<Institute>_task1.zip`` holds ``<Lastname>_<Institute>_task1/task1/<Label>/`` with
``<Label>.output.csv`` and ``<Label>.meta.yaml`` (the validator takes the third folder level as
the submission label, whose third ``_`` part must be ``task1b``). A technical report, when given,
goes to ``<Lastname>_<Institute>_task1/task1/<Lastname>_<Institute>_task1.technical_report.pdf``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from avsc.io import atomic_path


def package_stem(label: str) -> str:
    """``Doe_EXU_task1b_1`` → ``Doe_EXU_task1``."""
    lastname, institute = label.split("_")[:2]
    return f"{lastname}_{institute}_task1"


def member_names(label: str) -> dict[str, str]:
    """Archive names of the output, meta and report files."""
    stem = package_stem(label)
    folder = f"{stem}/task1/{label}"
    return {
        "output": f"{folder}/{label}.output.csv",
        "meta": f"{folder}/{label}.meta.yaml",
        "report": f"{stem}/task1/{stem}.technical_report.pdf",
    }


def write_package(out_dir: Path, *, label: str, output: Path, meta: Path, report: Path | None = None) -> Path:
    """Write ``out_dir/<Lastname>_<Institute>_task1.zip`` (atomically) and return its path."""
    names = member_names(label)
    path = Path(out_dir) / f"{package_stem(label)}.zip"
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(output, names["output"])
        archive.write(meta, names["meta"])
        if report is not None:
            archive.write(report, names["report"])
    return path
