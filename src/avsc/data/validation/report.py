"""The validation report: problems, ``validation.json`` and its plain-HTML fallback, and the gate.

:func:`require_valid` is what the stages after ``validate`` call first: they refuse to run unless
the report exists and says the dataset is valid.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from avsc.errors import DataError
from avsc.io import atomic_write_text

REPORT_FILE = "validation.json"


@dataclass(frozen=True)
class Problem:
    """One broken rule: the offending file (as written in the index, or an index file), the rule."""

    file: str
    rule: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.rule}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class ValidationReport:
    """Outcome of :func:`avsc.data.validation.validate_dataset`."""

    root: Path
    valid: bool
    n_clips: int
    problems: list[Problem]
    statistics: dict[str, Any] = field(default_factory=dict)
    docs_path: Path | None = None
    json_path: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "valid": self.valid,
            "n_clips": self.n_clips,
            "n_problems": len(self.problems),
            "problems": [dict(asdict(p), text=str(p)) for p in self.problems],
            "gx_statistics": self.statistics,
            "data_docs": str(self.docs_path) if self.docs_path else None,
        }


def unique_sorted(problems: list[Problem]) -> list[Problem]:
    """Each problem once, by file, rule and detail."""
    unique: dict[str, Problem] = {}
    for p in problems:
        unique.setdefault(str(p), p)
    return sorted(unique.values(), key=lambda p: (p.file, p.rule, p.detail))


def plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python numbers (for JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def fallback_html(report: ValidationReport) -> str:
    """A minimal HTML page listing the problems, for when GX Data Docs could not be built."""
    items = "\n".join(f"<li>{escape(str(p))}</li>" for p in report.problems) or "<li>none</li>"
    status = "valid" if report.valid else "INVALID"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>avsc validation</title></head><body>"
        f"<h1>Dataset validation: {status}</h1><p>{escape(str(report.root))}: {report.n_clips} clip(s), "
        f"{len(report.problems)} problem(s)</p><ul>{items}</ul></body></html>\n"
    )


def write_reports(report: ValidationReport, report_dir: Path) -> None:
    """Write ``validation.json`` (and ``index.html`` when GX Data Docs are missing), atomically."""
    if report.docs_path is None:
        report.docs_path = report_dir / "index.html"
        atomic_write_text(report.docs_path, fallback_html(report))
    report.json_path = report_dir / REPORT_FILE
    atomic_write_text(report.json_path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")


def require_valid(report: Path | str) -> dict[str, Any]:
    """Refuse to go on unless the validation report exists and says the dataset is valid.

    Parameters
    ----------
    report : the report folder (``validate.report_dir``, holding ``validation.json``) or the file.

    Returns
    -------
    dict
        The report's content.

    Raises
    ------
    DataError
        One line naming the report file: it is missing, unreadable, or does not say ``valid``.
    """
    path = Path(report)
    if path.is_dir() or path.suffix != ".json":
        path = path / REPORT_FILE
    if not path.is_file():
        raise DataError(f"{path}: no dataset validation report; run the validate stage first (`dvc repro validate`)")
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable validation report ({exc})") from None
    if not isinstance(content, dict) or content.get("valid") is not True:
        n = content.get("n_problems", "?") if isinstance(content, dict) else "?"
        raise DataError(f"{path}: the dataset failed validation ({n} problem(s)); fix it and run validate again")
    return content
