"""The ``avsc`` command line. Each sub-command has ``--help``.

User mistakes raise :class:`avsc.errors.AvscError`; they are printed as one line and the command
exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from avsc import __version__
from avsc.errors import AvscError, ValidationFailed

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

    p = sub.add_parser("synth", help="write a synthetic dataset in the exact TAU layout",
                       description="Write a synthetic TAU Urban Audio-Visual Scenes 2021-format dataset "
                       "(24-bit stereo 48 kHz WAV, H.264 MP4, meta.csv, evaluation_setup/).")
    p.add_argument("--out", type=Path, required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--clips-per-class", type=int, default=6, help="clips per scene class (default 6)")
    p.add_argument("--seed", type=int, default=2021, help="random seed (default 2021)")
    p.add_argument("--duration", type=float, default=10.0, help="clip length in seconds (default 10)")
    p.add_argument("--cities", type=int, default=4, help="number of cities (default 4)")
    p.add_argument("--video-size", default="128x96", help="video WIDTHxHEIGHT (default 128x96)")
    p.add_argument("--video-fps", type=int, default=10, help="video frame rate (default 10)")
    p.set_defaults(func=_cmd("avsc.data.synth:cli_synth"))

    p = sub.add_parser("validate", help="validate a dataset with great-expectations",
                       description="Run the great-expectations suite on a TAU-layout dataset; exit 0 when "
                       "valid, 1 with a list of offending files otherwise. Never modifies the dataset.")
    p.add_argument("--data", type=Path, required=True, help="dataset root (holds meta.csv)")
    p.add_argument("--report-dir", type=Path, default=None,
                   help="where GX Data Docs and validation.json go (default reports/validation/<dataset folder name>)")
    p.set_defaults(func=_cmd("avsc.data.validate:cli_validate"))

    p = sub.add_parser("prepare", help="index the dataset into a manifest with content hashes (DVC stage)")
    p.set_defaults(func=_cmd("avsc.data.manifest:cli_prepare"))

    p = sub.add_parser("features", help="compute audio or visual features (DVC stages)")
    p.add_argument("modality", choices=["audio", "visual"])
    p.set_defaults(func=_cmd("avsc.features.stage:cli_features"))

    p = sub.add_parser("train", help="run a training step of the SE-CRNN (DVC stages)")
    p.add_argument("step", choices=["audio", "visual", "fusion", "finetune"])
    p.set_defaults(func=_cmd("avsc.training.stages:cli_train"))

    p = sub.add_parser("evaluate", help="DCASE evaluation on 1-s segments of fold1_evaluate (DVC stage)")
    p.set_defaults(func=_cmd("avsc.evaluation.stage:cli_evaluate"))

    p = sub.add_parser("register", help="register the fused model as a new avsc-fused version (DVC stage)")
    p.set_defaults(func=_cmd("avsc.tracking.registry:cli_register"))

    p = sub.add_parser("promote", help="move the champion alias to the challenger when it is better",
                       description="Compare the challenger with the champion on evaluate log-loss of the same "
                       "dataset version; move @champion only when the challenger is better.")
    p.add_argument("--model-name", default=None, help="registered model (default from params: avsc-fused)")
    p.add_argument("--force", action="store_true", help="promote even when not better (recorded on the version)")
    p.set_defaults(func=_cmd("avsc.tracking.registry:cli_promote"))

    p = sub.add_parser("predict", help="classify a clip with a registered model")
    p.add_argument("--audio", type=Path, default=None, help="WAV file (48 kHz stereo)")
    p.add_argument("--video", type=Path, default=None, help="MP4 file (its audio track is used when --audio is absent)")
    p.add_argument("--model", default="models:/avsc-fused@champion", help="model URI (default models:/avsc-fused@champion)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd("avsc.predict:cli_predict"))

    p = sub.add_parser("model-summary", help="print total and trainable parameters per module")
    p.add_argument("--system", default="secrnn", choices=["secrnn"])
    p.add_argument("--profile", default=None, help="params profile (default: params.yaml; 'paper' for profiles/paper.yaml)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd("avsc.models.summary:cli_model_summary"))

    p = sub.add_parser("tune", help="Optuna search over mixup alpha, learning rate and GRU sizes")
    p.add_argument("--study-name", required=True)
    p.add_argument("--n-trials", type=int, default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--storage", default=None, help="journal:PATH (default) or an RDB URL, e.g. postgresql://...")
    p.add_argument("--target", choices=["audio", "visual", "fusion"], default=None)
    p.set_defaults(func=_cmd("avsc.tuning.tune:cli_tune"))

    p = sub.add_parser("profile", help="switch params.yaml to a profile (default or paper)")
    p.add_argument("name", help="profile name: a file profiles/<name>.yaml")
    p.set_defaults(func=_cmd("avsc.config.profiles:cli_profile"))
    return parser


def main(argv: list[str] | None = None) -> int:
    from avsc.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("DEBUG" if args.verbose else None)
    try:
        code = args.func(args)
    except ValidationFailed as exc:
        print(f"avsc {args.command}: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except AvscError as exc:
        print(f"avsc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"avsc {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
