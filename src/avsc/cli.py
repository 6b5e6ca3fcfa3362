"""The ``avsc`` command line. Each sub-command has ``--help``.

Every failure is one line on stderr and a non-zero exit status (see :mod:`avsc.entry`); ``-v``
adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from avsc import __version__
from avsc.config.base import SYSTEMS
from avsc.entry import run_entry

log = logging.getLogger("avsc")


def _cmd(target: str):
    """Lazy reference ``module:function``; heavy imports (TensorFlow) only when the command runs."""

    def call(args: argparse.Namespace) -> int | None:
        module, func = target.split(":")
        return getattr(importlib.import_module(module), func)(args)

    return call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avsc",
        description="Reproducible audio-visual scene classification (DCASE 2021 Task 1B).",
    )
    parser.add_argument("--version", action="version", version=f"avsc {__version__}")
    parser.add_argument("--params", type=Path, default=None, help="params file (default: params.yaml at the repo root)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from avsc.config.settings import BaseSection, SyntheticSection

    synth, seed = SyntheticSection(), BaseSection().seed  # the one place of the generator's defaults
    p = sub.add_parser(
        "synth",
        help="write a synthetic dataset in the exact TAU layout",
        description="Write a synthetic TAU Urban Audio-Visual Scenes 2021-format dataset "
        "(24-bit stereo 48 kHz WAV, H.264 MP4, meta.csv, evaluation_setup/), or with --evaluation-set "
        "a 1-s evaluation set in the DCASE 2021 Task 1B naming (audio/N.wav, video/N.mp4, "
        "evaluation_setup/fold1_test.csv; ground_truth.csv holds the true scenes, for tests).",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    p.add_argument(
        "--clips-per-class", type=int, default=None, help=f"clips per scene class (default {synth.clips_per_class})"
    )
    p.add_argument(
        "--duration", type=float, default=None, help=f"clip length in seconds (default {synth.duration_s:g})"
    )
    p.add_argument("--cities", type=int, default=None, help=f"number of cities (default {synth.cities})")
    p.add_argument(
        "--video-size",
        default=None,
        help=f"video WIDTHxHEIGHT (default {synth.video_width}x{synth.video_height})",
    )
    p.add_argument("--video-fps", type=int, default=None, help=f"video frame rate (default {synth.video_fps})")
    p.add_argument(
        "--evaluation-set",
        action="store_true",
        help="write a 1-s evaluation set (random scenes, no labels in the official files) instead",
    )
    p.add_argument("--clips", type=int, default=None, help="number of 1-s clips of the evaluation set")
    p.set_defaults(func=_cmd("avsc.data.synthetic.cli:cli_synth"))

    p = sub.add_parser(
        "validate",
        help="validate a dataset with great-expectations",
        description="Run the great-expectations suite on a TAU-layout dataset; exit 0 when "
        "valid, 1 with a list of offending files otherwise. Never modifies the dataset.",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset root (holds meta.csv)")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where GX Data Docs and validation.json go (default reports/validation/<dataset folder name>)",
    )
    p.set_defaults(func=_cmd("avsc.data.validation.entry:cli_validate"))

    p = sub.add_parser("prepare", help="index the dataset into a manifest with content hashes (DVC stage)")
    p.set_defaults(func=_cmd("avsc.data.manifest:cli_prepare"))

    p = sub.add_parser("features", help="compute audio or visual features (DVC stages)")
    p.add_argument("modality", choices=["audio", "visual"])
    p.set_defaults(func=_cmd("avsc.features.stage:cli_features"))

    p = sub.add_parser("train", help="run a training step of the active system (DVC stages)")
    p.add_argument("step", choices=["audio", "visual", "fusion", "finetune"])
    p.set_defaults(func=_cmd("avsc.training.stages:cli_train"))

    p = sub.add_parser("evaluate", help="DCASE evaluation on 1-s segments of fold1_evaluate (DVC stage)")
    p.set_defaults(func=_cmd("avsc.evaluation.stage:cli_evaluate"))

    p = sub.add_parser("register", help="register the system's final model as a new version (DVC stage)")
    p.set_defaults(func=_cmd("avsc.tracking.registry:cli_register"))

    p = sub.add_parser(
        "promote",
        help="move the champion alias to the challenger when it is better",
        description="Compare the challenger with the champion of the same system on evaluate log-loss of the "
        "same dataset version, segments, skipped clips and head; move @champion only when the challenger is "
        "better (real data always outranks the synthetic sample).",
    )
    p.add_argument("--system", choices=SYSTEMS, default=None, help="model system (default: model.system in params)")
    p.add_argument(
        "--model-name", default=None, help="registered model (default: register.model_name.<system>, e.g. avsc-fused)"
    )
    p.add_argument(
        "--version",
        default=None,
        help="registered version to promote (default: the @challenger alias, which the next `register` moves)",
    )
    p.add_argument("--force", action="store_true", help="promote even when not better (recorded on the version)")
    p.set_defaults(func=_cmd("avsc.tracking.registry:cli_promote"))

    p = sub.add_parser("predict", help="classify a clip with a registered model")
    p.add_argument("--audio", type=Path, default=None, help="WAV file (48 kHz stereo)")
    p.add_argument("--video", type=Path, default=None, help="MP4 file (its audio track is used when --audio is absent)")
    p.add_argument(
        "--model",
        default=None,
        help="model URI, e.g. models:/avsc-dualstream@champion (default: the champion of model.system's model)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd("avsc.predict:cli_predict"))

    from avsc.submission.cli import add_parser as add_submission_parser

    add_submission_parser(sub, _cmd)  # `avsc submission`

    p = sub.add_parser("model-summary", help="print total and trainable parameters per module")
    p.add_argument("--system", default=None, choices=SYSTEMS, help="model system (default: model.system)")
    p.add_argument(
        "--profile", default=None, help="params profile (default: params.yaml; 'paper' for profiles/paper.yaml)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd("avsc.models.summary:cli_model_summary"))

    p = sub.add_parser(
        "tune", help="Optuna search over the system's space (tune.space.<system>: learning rates, mixup, ...)"
    )
    p.add_argument("--system", choices=SYSTEMS, default=None, help="model system (default: model.system)")
    p.add_argument("--study-name", required=True)
    p.add_argument("--n-trials", type=int, default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--storage", default=None, help="journal:PATH (default) or an RDB URL, e.g. postgresql://...")
    p.add_argument("--target", choices=["audio", "visual", "fusion"], default=None)
    p.set_defaults(func=_cmd("avsc.tuning.cli:cli_tune"))

    p = sub.add_parser(
        "report",
        help="reports built from the MLflow store (systems: every system trained here, side by side)",
        description="`avsc report systems`: the latest evaluation of every model system in this project's MLflow "
        "store (workspace and DVC experiments) next to the papers' numbers: reports/systems.md, systems.csv.",
    )
    p.add_argument("what", choices=["systems"], help="which report")
    p.add_argument("--out", type=Path, default=None, help="folder (default: base.reports_dir)")
    p.set_defaults(func=_cmd("avsc.evaluation.systems_report:cli_report_systems"))

    p = sub.add_parser(
        "bench",
        help="benchmarks: `bench scale` projects every stage's time, disk and memory for the full TAU dev set",
    )
    p.add_argument("what", choices=["scale"])
    p.add_argument(
        "--profile", default=None, help="params profile (default: params.yaml; e.g. paper, paper-dualstream)"
    )
    p.add_argument("--system", default=None, choices=SYSTEMS, help="model system (default: the profile's)")
    p.add_argument("--clips", type=int, default=40, help="fabricated clips the training steps are measured on")
    p.add_argument("--steps", type=int, default=2, help="timed training batches per step")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd("avsc.benchmarking.scale:cli_bench"))

    p = sub.add_parser("profile", help="switch params.yaml to a profile (default or paper)")
    p.add_argument("name", help="profile name: a file profiles/<name>.yaml")
    p.set_defaults(func=_cmd("avsc.config.profiles:cli_profile"))

    from avsc.data.intake.cli import add_parsers as add_data_parsers

    add_data_parsers(sub, _cmd)  # `avsc data add|download`

    from avsc.tracking.server.cli import add_parsers as add_team_parsers

    add_team_parsers(sub, _cmd)  # `avsc server start|stop|status`, `avsc store migrate`
    return parser


def main(argv: list[str] | None = None) -> int:
    from avsc.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("DEBUG" if args.verbose else None)
    return run_entry(f"avsc {args.command}", lambda: args.func(args), verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
