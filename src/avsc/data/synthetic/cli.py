"""``avsc synth``: a synthetic dataset in the development layout, or a 1-s evaluation set.

Flags left out take their defaults from :class:`avsc.config.settings.SyntheticSection` (through
:class:`~avsc.data.synthetic.config.SynthConfig`), so the command, ``params.yaml`` and the library
share one set of defaults and bounds.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avsc.data.synthetic.config import EvaluationSetConfig, SynthConfig
from avsc.data.synthetic.development import synthesize
from avsc.data.synthetic.evaluation import synthesize_evaluation_set
from avsc.data.tau import CLASSES
from avsc.errors import ConfigError

log = logging.getLogger(__name__)

#: Development-layout flags that an evaluation set does not take: (attribute, flag, setting).
DEVELOPMENT_ONLY = (
    ("clips_per_class", "--clips-per-class", "clips_per_class"),
    ("duration", "--duration", "duration_s"),
    ("cities", "--cities", "cities"),
)


def parse_video_size(text: str) -> tuple[int, int]:
    """``"128x96"`` → ``(128, 96)``; raise :class:`ConfigError` otherwise."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--video-size {text!r}: expected WIDTHxHEIGHT, e.g. 128x96")
    return int(parts[0]), int(parts[1])


def _video_values(args: argparse.Namespace) -> dict[str, int]:
    values = {}
    if args.video_size is not None:
        values["video_width"], values["video_height"] = parse_video_size(args.video_size)
    if args.video_fps is not None:
        values["video_fps"] = args.video_fps
    return values


def cli_synth(args: argparse.Namespace) -> int:
    """``avsc synth``: write a synthetic dataset (``--evaluation-set``: a 1-s evaluation set)."""
    video = _video_values(args)
    given = {setting: getattr(args, attr) for attr, _, setting in DEVELOPMENT_ONLY if getattr(args, attr) is not None}
    if args.evaluation_set:
        flags = [flag for attr, flag, _ in DEVELOPMENT_ONLY if getattr(args, attr) is not None]
        if flags:
            raise ConfigError(
                f"{', '.join(flags)}: not for --evaluation-set (1-s clips of random scenes; their number is --clips)"
            )
        if args.clips is None:
            raise ConfigError("--evaluation-set needs --clips N (the number of 1-s clips)")
        evaluation = EvaluationSetConfig(out=Path(args.out), clips=args.clips, seed=args.seed, **video)
        out = synthesize_evaluation_set(evaluation)
        log.info("wrote %d evaluation clips to %s", evaluation.clips, out)
        return 0
    if args.clips is not None:
        raise ConfigError("--clips is for --evaluation-set; the development layout takes --clips-per-class")
    config = SynthConfig(out=Path(args.out), seed=args.seed, **given, **video)
    out = synthesize(config)
    log.info("wrote %d clips to %s", config.clips_per_class * len(CLASSES), out)
    return 0
