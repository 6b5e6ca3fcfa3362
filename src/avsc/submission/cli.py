"""The ``avsc submission`` sub-command's arguments (the command itself: :func:`.run.cli_submission`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from avsc.submission.meta import AUTHORS_TEMPLATE

DEFAULT_AUTHORS = Path("submission.yaml")


def add_parser(sub, cmd) -> None:
    """Add ``avsc submission`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "submission",
        help="run a registered model on a 1-s evaluation set and write a DCASE 2021 Task 1B submission package",
        description="Classify every clip of a DCASE 2021 Task 1B evaluation-set folder (audio/<n>.wav +\n"
        "video/<n>.mp4, listed in evaluation_setup/fold1_test.csv) with a registered model and write\n"
        "<Label>.output.csv, <Label>.meta.yaml and <Lastname>_<Institute>_task1.zip into --out.\n"
        "Results are kept in chunks under OUT/.partial: a killed run continues where it stopped.",
        epilog="Authors file (YAML; the meta information's author fields come only from it):\n\n" + AUTHORS_TEMPLATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--eval-dir", type=Path, required=True, help="evaluation-set folder of 1-s clips")
    p.add_argument("--label", required=True, help="submission label Lastname_Institute_task1b_N (N = 1..4)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--model",
        default=None,
        help="registered model, models:/NAME@ALIAS or models:/NAME/N (default: the champion of model.system's model)",
    )
    p.add_argument(
        "--authors",
        type=Path,
        default=DEFAULT_AUTHORS,
        help=f"authors YAML file, see below (default: {DEFAULT_AUTHORS} in the current folder)",
    )
    p.add_argument(
        "--on-error",
        choices=["stop", "uniform"],
        default="stop",
        help="a clip that cannot be read stops the run (default), or gets the uniform distribution and is "
        "listed in <Label>.failed_clips.csv",
    )
    p.add_argument("--report", type=Path, default=None, help="technical report PDF to put into the zip")
    p.add_argument("--chunk-size", type=int, default=256, help="clips per saved chunk (default 256)")
    p.add_argument(
        "--batch-size", type=int, default=32, help="clips per backbone and network call (default 32; bounds memory)"
    )
    p.set_defaults(func=cmd("avsc.submission.run:cli_submission"))
