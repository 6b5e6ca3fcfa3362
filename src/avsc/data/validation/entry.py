"""The edges: the ``validate`` DVC stage (:func:`main_for_stage`) and ``avsc validate`` (:func:`cli_validate`).

Both validate, write the report, and raise :class:`~avsc.errors.ValidationFailed` (exit status 1,
one line per problem) when the dataset is invalid.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avsc.config.media import MediaLimits
from avsc.config.settings import Params, ValidateSection, find_root, load_params
from avsc.data.validation.report import ValidationReport
from avsc.data.validation.validate import validate_from_params, validate_with
from avsc.errors import ValidationFailed

log = logging.getLogger(__name__)


def raise_if_invalid(report: ValidationReport) -> None:
    """:class:`ValidationFailed` listing every problem when the dataset is invalid."""
    if not report.valid:
        raise ValidationFailed(
            f"{report.root}: {len(report.problems)} problem(s) found (report: {report.json_path})",
            problems=[str(p) for p in report.problems],
        )


def main_for_stage(params: Params, root_dir: Path | None = None) -> ValidationReport:
    """DVC stage entry: validate and raise :class:`ValidationFailed` when the dataset is invalid."""
    report = validate_from_params(params, Path(root_dir) if root_dir else find_root())
    raise_if_invalid(report)
    log.info("%s: %d clips valid", report.root, report.n_clips)
    return report


def cli_validate(args: argparse.Namespace) -> int:
    """``avsc validate --data ROOT [--report-dir DIR]``; rules from params.yaml's ``validate``."""
    params_file = getattr(args, "params", None)
    if params_file is not None or (find_root() / "params.yaml").is_file():
        params = load_params(params_file)
        cfg, limits = params.validate_, params.media
    else:
        cfg, limits = ValidateSection(), MediaLimits()
    report_dir = (
        Path(args.report_dir)
        if args.report_dir
        else Path("reports/validation") / (Path(args.data).resolve().name or "dataset")
    )
    report = validate_with(Path(args.data), report_dir, cfg, limits=limits)
    raise_if_invalid(report)
    log.info(
        "%s: valid (%d clips, %d GX expectations passed) in %.1f s; Data Docs %s",
        report.root,
        report.n_clips,
        report.statistics.get("successful_expectations", 0),
        report.seconds,
        report.docs_path,
    )
    return 0
