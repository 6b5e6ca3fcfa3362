"""Synthetic TAU Urban Audio-Visual Scenes 2021-format data, generated from a seed.

Scene signal models (pure functions of random streams): :mod:`.audio_scenes` and :mod:`.audio`,
:mod:`.video_scenes` and :mod:`.video`, joined per clip by :mod:`.render`. Which clips, folds and
cities: :mod:`.plan`. Files: :mod:`.development` (the development layout, :func:`synthesize`),
:mod:`.evaluation` (a 1-s evaluation set, :func:`synthesize_evaluation_set`), helpers in
:mod:`.writer`. Settings: :mod:`.config` (defaults and bounds from
:class:`avsc.config.settings.SyntheticSection`). Command: :mod:`.cli`.

The same seed gives byte-identical WAVs and index files and identical rendered frames (the H.264
encoder is not bit-exact run to run).
"""

from avsc.data.synthetic.config import EvaluationSetConfig, SynthConfig
from avsc.data.synthetic.development import synthesize
from avsc.data.synthetic.evaluation import synthesize_evaluation_set

__all__ = ["EvaluationSetConfig", "SynthConfig", "synthesize", "synthesize_evaluation_set"]
