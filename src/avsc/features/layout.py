"""Where the feature stages keep their outputs (one place for every stage that reads them).

``<base.features_dir>/audio``, ``/visual`` and ``/frames`` are the DVC outputs of
``features_audio`` and ``features_visual`` (the same paths for every model system: DVC's run
cache swaps in the features of the active system). A stage computes into
``<base.features_dir>/.partial/<kind>-<fingerprint>`` (resumable after a kill) and publishes the
finished folder under its output name.
"""

from __future__ import annotations

from pathlib import Path

from avsc.config.settings import Params

AUDIO_DIR = "audio"
VISUAL_DIR = "visual"
FRAMES_DIR = "frames"
PARTIAL_DIR = ".partial"
BACKBONE_FILE = "backbone.weights.h5"
STATS_FILE = "stats.npz"


def features_root(params: Params, root_dir: Path) -> Path:
    """``<root>/<base.features_dir>``."""
    return root_dir / params.base.features_dir


def feature_dir(params: Params, root_dir: Path, kind: str) -> Path:
    """The published folder of ``kind`` (``audio``, ``visual`` or ``frames``)."""
    return features_root(params, root_dir) / kind


def partial_dir(params: Params, root_dir: Path, kind: str, fingerprint: str) -> Path:
    """Where a run with ``fingerprint`` computes ``kind`` before publishing it."""
    return features_root(params, root_dir) / PARTIAL_DIR / f"{kind}-{fingerprint}"
