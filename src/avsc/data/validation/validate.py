"""Validating a dataset: the index frame, the rules, the GX run and the report, in that order.

The dataset is only read: files are opened read-only, nothing but a regular file that resolves
inside the root is opened, and the GX Data Docs and ``validation.json`` go under ``report_dir``,
which must not be inside the dataset.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.config.settings import Params, ValidateSection
from avsc.data.validation.frame import build_index
from avsc.data.validation.report import Problem, ValidationReport, plain, unique_sorted, write_reports
from avsc.data.validation.rules import suite_rules
from avsc.data.validation.suite import problems_from_results, run_suite
from avsc.errors import DataError

log = logging.getLogger(__name__)


def validate_dataset(
    root: Path | str,
    *,
    report_dir: Path | str,
    duration_s: float = 10.0,
    tolerance_s: float = 0.05,
    sample_rate: int = 48000,
    channels: int = 2,
    workers: int = 2,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ValidationReport:
    """Validate a TAU-layout dataset; never modifies it.

    Parameters
    ----------
    root : dataset folder holding ``meta.csv``, ``evaluation_setup/``, ``audio/``, ``video/``.
    report_dir : where Data Docs (``data_docs/index.html``) and ``validation.json`` are written;
        must not be inside ``root``.
    duration_s, tolerance_s : expected clip length and the allowed deviation of the audio.
    sample_rate, channels : expected audio format.
    limits : the ``media`` limits; a file past one is reported as a problem, never decoded whole.

    Returns
    -------
    ValidationReport
        ``valid`` is True when no problem was found; ``problems`` names each offending file.
    """
    start = time.monotonic()
    root = Path(root)
    report_dir = Path(report_dir)
    if root.exists() and report_dir.resolve().is_relative_to(root.resolve()):
        raise DataError(f"{report_dir}: the report folder must be outside the dataset {root}")
    report_dir.mkdir(parents=True, exist_ok=True)

    problems: list[Problem] = []
    statistics: dict[str, Any] = {}
    docs_path = None
    n_clips = 0
    if not root.is_dir():
        problems.append(Problem(str(root), "dataset folder must exist", "not found"))
    else:
        df, problems = build_index(root, workers=workers, limits=limits)
        n_clips = int(df.loc[df["split"] == "meta", "filename_audio"].nunique()) if len(df) else 0
        if len(df):
            fps = [f for f in df["video_fps"] if f]
            video_tol = max(tolerance_s, 1.0 / float(np.median(fps))) if fps else tolerance_s
            rules = suite_rules(
                duration_s=duration_s,
                tolerance_s=tolerance_s,
                sample_rate=sample_rate,
                channels=channels,
                video_tolerance_s=video_tol + 1e-6,
            )
            try:
                validation, docs_path = run_suite(df, rules, docs_dir=report_dir / "data_docs")
            except Exception as exc:  # GX internals; keep the report
                log.warning("great-expectations run failed (%s); writing a plain report", exc)
                raise DataError(f"great-expectations could not run the suite: {exc}") from None
            statistics = plain(dict(validation.statistics))
            statistics["success"] = bool(validation.success)
            problems.extend(problems_from_results(validation, df, rules))
            if docs_path is None:
                log.warning("GX Data Docs were not built; writing a plain HTML report instead")
    problems = unique_sorted(problems)
    report = ValidationReport(
        root=root,
        valid=not problems,
        n_clips=n_clips,
        problems=problems,
        statistics=statistics,
        docs_path=docs_path,
        seconds=time.monotonic() - start,
    )
    write_reports(report, report_dir)
    log.info("validation report: %s; data docs: %s", report.json_path, report.docs_path)
    return report


def declared_duration(root: Path) -> float | None:
    """Clip length declared by a synthetic dataset's ``SYNTHETIC`` marker, if any."""
    marker = root / "SYNTHETIC"
    if not marker.is_file():
        return None
    try:
        text = marker.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    data: Any = None
    brace = text.find("{")
    if brace >= 0:  # a free-text line, then the generator's settings as JSON
        try:
            data = json.loads(text[brace:])
        except ValueError:
            data = None
    if isinstance(data, dict):
        for key in ("duration_s", "duration"):
            if key in data:
                try:
                    return float(data[key])
                except (TypeError, ValueError):
                    return None
        for value in data.values():
            if isinstance(value, dict) and "duration_s" in value:
                try:
                    return float(value["duration_s"])
                except (TypeError, ValueError):
                    return None
    return None


def validate_from_params(params: Params, root_dir: Path) -> ValidationReport:
    """Validate ``params.data.root`` with the ``validate`` section (paths relative to ``root_dir``)."""
    cfg = params.validate_
    data_root = Path(params.data.root)
    data_root = data_root if data_root.is_absolute() else Path(root_dir) / data_root
    report_dir = Path(cfg.report_dir)
    report_dir = report_dir if report_dir.is_absolute() else Path(root_dir) / report_dir
    return validate_with(data_root, report_dir, cfg, limits=params.media)


def validate_with(
    root: Path, report_dir: Path, cfg: ValidateSection, *, limits: MediaLimits = DEFAULT_LIMITS
) -> ValidationReport:
    """Validate ``root`` with the rules of ``cfg``; a synthetic dataset's declared clip length wins."""
    duration = cfg.duration_s
    declared = declared_duration(root) if root.is_dir() else None
    if declared is not None and not math.isclose(declared, duration):
        log.info(
            "%s: synthetic dataset declares %g-s clips; checking that length instead of %g s", root, declared, duration
        )
        duration = declared
    return validate_dataset(
        root,
        report_dir=report_dir,
        duration_s=duration,
        tolerance_s=cfg.duration_tolerance_s,
        sample_rate=cfg.sample_rate,
        channels=cfg.channels,
        limits=limits,
    )
