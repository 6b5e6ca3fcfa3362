"""Which code a feature depends on: found from the functions, through their modules' imports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import avsc.features.audio
from avsc.features.audio_file import audio_file_features
from avsc.features.provenance import avsc_imports, code_digest, file_sha256


def test_code_digest_follows_imports_transitively():
    digest = code_digest(audio_file_features)
    assert {"avsc.features.audio_file", "avsc.features.audio", "avsc.data.media", "avsc.errors"} <= set(digest)
    assert "avsc.features.stage" not in digest and "avsc.data.validate" not in digest  # orchestration, not compute
    source = Path(avsc.features.audio.__file__).read_bytes()
    assert digest["avsc.features.audio"] == hashlib.sha256(source).hexdigest()


def test_avsc_imports_of_every_form():
    source = """
import numpy as np
import avsc.errors
from avsc.data import media
from avsc.features.store import fingerprint
from . import normalize
from .audio import clip_features

def lazy():
    from avsc.models.backbone import preprocess_frames
"""
    assert avsc_imports(source, module="avsc.features.stage") == {
        "avsc.errors",
        "avsc.data.media",
        "avsc.features.store",
        "avsc.features.normalize",
        "avsc.features.audio",
        "avsc.models.backbone",
    }


def test_file_sha256(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"x" * 3_000_000)
    assert file_sha256(path, chunk=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
