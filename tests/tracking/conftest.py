"""Fixtures for the registry tests: a private copy of the trained workspace's MLflow store.

``trained_workspace`` itself lives in tests/conftest.py (the evaluation and predict tests share it).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def registry_store(trained_workspace, tmp_path, monkeypatch) -> str:
    """A per-test copy of the trained store (artifacts are shared, referenced by absolute URIs).

    Registry tests move aliases and add versions; the copy keeps the session store untouched.
    Returns the tracking URI of the copy (already set in ``MLFLOW_TRACKING_URI``).
    """
    trained_workspace.use(monkeypatch)
    src_db = Path(trained_workspace.tracking_uri.removeprefix("sqlite:///"))
    dst_db = tmp_path / "store" / "mlflow.db"
    dst_db.parent.mkdir()
    src, dst = sqlite3.connect(src_db), sqlite3.connect(dst_db)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    uri = f"sqlite:///{dst_db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
