"""Fixtures of the submission tests: 1-s synthetic evaluation sets, an authors file, the validator's rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from avsc.submission.meta import AUTHORS_TEMPLATE

#: Clips of the main synthetic evaluation set (the challenge has 72,000; the kill test reads the first 40).
N_CLIPS = 60


def _synth(out: Path, clips: int, seed: int) -> Path:
    from avsc.data.synthetic import EvaluationSetConfig, synthesize_evaluation_set

    config = EvaluationSetConfig(out=out, clips=clips, seed=seed, video_width=64, video_height=48, video_fps=10)
    return synthesize_evaluation_set(config, workers=2)


@pytest.fixture(scope="session")
def eval_set(tmp_path_factory) -> Path:
    """``N_CLIPS`` 1-s clips in the official naming (read-only)."""
    return _synth(tmp_path_factory.mktemp("evalset") / "set", N_CLIPS, seed=11)


@pytest.fixture(scope="session")
def small_eval_set(tmp_path_factory) -> Path:
    """Six 1-s clips (read-only; tests that corrupt a clip copy it first)."""
    return _synth(tmp_path_factory.mktemp("evalsmall") / "set", 6, seed=12)


@pytest.fixture(scope="session")
def authors_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("authors") / "submission.yaml"
    path.write_text(AUTHORS_TEMPLATE)
    return path


@pytest.fixture(scope="session")
def validator():
    """:mod:`validator_rules` (loaded by path: the tests run with ``--import-mode=importlib``)."""
    path = Path(__file__).with_name("validator_rules.py")
    spec = importlib.util.spec_from_file_location("submission_validator_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
