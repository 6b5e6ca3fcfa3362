"""Serving rules: media bytes, paths only under the allowed root, request limits (see avsc.tracking.serving)."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

from avsc.errors import DataError
from avsc.tracking import serving
from avsc.tracking.pyfunc_model import SceneModel
from avsc.tracking.serving import ServeLimits, allowed_path, check_clip_count, decode_b64


def test_limits_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv(serving.ALLOWED_ROOT_ENV, str(tmp_path))
    monkeypatch.setenv(serving.MAX_CLIPS_ENV, "3")
    monkeypatch.setenv(serving.MAX_CLIP_BYTES_ENV, "1000")
    monkeypatch.setenv(serving.DECODE_TIMEOUT_ENV, "2.5")
    limits = ServeLimits.from_env()
    assert limits == ServeLimits(
        allowed_root=tmp_path.resolve(), max_clip_bytes=1000, max_clips=3, decode_timeout_s=2.5
    )
    media = limits.media_limits()
    assert media.max_file_bytes == 1000 and media.decode_timeout_s == 2.5


def test_bad_limit_names_the_variable(monkeypatch):
    from avsc.errors import AvscError

    monkeypatch.setenv(serving.MAX_CLIPS_ENV, "many")
    with pytest.raises(AvscError, match="AVSC_SERVE_MAX_CLIPS='many'"):
        ServeLimits.from_env()


def test_paths_need_an_allowed_root(tmp_path):
    with pytest.raises(DataError, match="file paths are refused.*AVSC_SERVE_ALLOWED_ROOT is not set"):
        allowed_path(str(tmp_path / "a.mp4"), ServeLimits())


def test_symlink_out_of_the_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "x.mp4").write_bytes(b"x")
    (root / "link.mp4").symlink_to(outside / "x.mp4")
    (root / "ok.mp4").write_bytes(b"x")
    limits = ServeLimits(allowed_root=root.resolve())
    assert allowed_path(str(root / "ok.mp4"), limits) == (root / "ok.mp4").resolve()
    for path in (root / "link.mp4", root / ".." / "secret" / "x.mp4", outside / "x.mp4"):
        with pytest.raises(DataError, match="outside the allowed root"):
            allowed_path(str(path), limits)


def test_request_limits_name_the_limit():
    with pytest.raises(DataError, match=r"3 clips, over the limit of 2 clips per request \(AVSC_SERVE_MAX_CLIPS\)"):
        check_clip_count(3, ServeLimits(max_clips=2))
    big = base64.b64encode(b"\0" * 4000).decode()
    with pytest.raises(DataError, match=r"over the limit of 1000 bytes per clip \(AVSC_SERVE_MAX_CLIP_BYTES\)"):
        decode_b64(big, field="c: video_b64", limits=ServeLimits(max_clip_bytes=1000))
    with pytest.raises(DataError, match="c: video_b64: not valid base64"):
        decode_b64("not base64!", field="c: video_b64", limits=ServeLimits())


def test_served_pyfunc_answers_a_bad_request_with_a_400_error(monkeypatch, tmp_path):
    """While serving, the one-line error becomes an MlflowException with INVALID_PARAMETER_VALUE (HTTP 400)."""
    from mlflow.exceptions import MlflowException

    model = SceneModel()  # no bundle needed: every row is refused before the model runs
    monkeypatch.setenv(serving.SERVING_FLAG, "true")
    monkeypatch.setenv(serving.MAX_CLIPS_ENV, "1")
    with pytest.raises(MlflowException) as info:
        model.predict(None, pd.DataFrame([{"video": "/etc/hostname"}, {"video": "/etc/hostname"}]))
    assert info.value.get_http_status_code() == 400
    assert "over the limit of 1 clips per request (AVSC_SERVE_MAX_CLIPS)" in info.value.message
    monkeypatch.delenv(serving.MAX_CLIPS_ENV)
    with pytest.raises(MlflowException, match="file paths are refused") as info:
        model.predict(None, pd.DataFrame([{"video": "/etc/hostname"}]))
    assert info.value.get_http_status_code() == 400
    monkeypatch.setenv(serving.ALLOWED_ROOT_ENV, str(tmp_path))
    with pytest.raises(MlflowException, match="/etc/hostname: outside the allowed root"):
        model.predict(None, pd.DataFrame([{"video": "/etc/hostname"}]))
    garbage = base64.b64encode(b"garbage" * 10).decode()
    with pytest.raises(MlflowException, match="^c1: video_b64: not a readable video file") as info:
        model.predict(None, pd.DataFrame([{"video_b64": garbage, "clip": "c1"}]))
    assert "/tmp" not in info.value.message  # the client's field is named, not a server path


def test_local_predict_keeps_data_errors(tmp_path):
    """Outside a server (``avsc predict``), paths are allowed and errors stay DataError for the CLI."""
    with pytest.raises(DataError, match="video file not found"):
        SceneModel().predict(None, pd.DataFrame([{"video": str(tmp_path / "missing.mp4")}]))
