"""The ``synth`` DVC stage: the embedded synthetic sample, from ``data.synthetic`` and ``base.seed``.

Its output, ``data/tau-synthetic``, is a cached DVC output like the features and models: ``dvc
push`` sends it to a remote, DVC's temporary experiment workspaces (``dvc exp run --queue`` /
``--temp``) check it out, and a clone gets it with ``dvc pull``. ``prepare`` reads ``data.root``,
which is this folder by default (a real TAU copy enters DVC with ``avsc data add``).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from avsc.config.settings import Params, find_root
from avsc.data.synthetic.config import SynthConfig
from avsc.data.synthetic.development import synthesize
from avsc.errors import DataError

log = logging.getLogger(__name__)

#: The stage's output, relative to the repository (dvc.yaml names the same path).
SYNTHETIC_ROOT = "data/tau-synthetic"
MARKER = "SYNTHETIC"


def run_synth_stage(params: Params, root_dir: Path | None = None) -> Path:
    """Write the synthetic sample to ``<repo>/data/tau-synthetic`` (replacing an earlier sample only)."""
    root_dir = root_dir or find_root()
    out = root_dir / SYNTHETIC_ROOT
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise DataError(
                f"{out}: exists and is not a synthetic sample avsc wrote (no {MARKER} file); refusing to overwrite it"
            )
        log.info("replacing the earlier synthetic sample in %s", out)
        shutil.rmtree(out)
    s = params.data.synthetic
    config = SynthConfig(
        out=out,
        clips_per_class=s.clips_per_class,
        seed=params.base.seed,
        duration_s=s.duration_s,
        cities=s.cities,
        video_width=s.video_width,
        video_height=s.video_height,
        video_fps=s.video_fps,
    )
    return synthesize(config)
