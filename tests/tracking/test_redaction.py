"""Passwords in tracking and database URLs never reach logs, error lines, tags or the store."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from avsc.cli import main
from avsc.logs import setup_logging
from avsc.secrets import redact_text, redact_url

SECRET = "Pw0rdS3cret"
DB_SECRET = "DbS3cretPw"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("store postgresql://avsc:s3cret@db:5433/mlflow failed", "store postgresql://avsc:***@db:5433/mlflow failed"),
        ("a http://admin:pa@ss@h:5000/api b", "a http://admin:***@h:5000/api b"),
        ("'postgresql://h/db?user=u&password=s3cret&sslmode=x'", "'postgresql://h/db?user=u&password=***&sslmode=x'"),
        (
            "sqlite:////abs/mlflow.db?timeout=60 and http://h:5000",
            "sqlite:////abs/mlflow.db?timeout=60 and http://h:5000",
        ),
    ],
)
def test_redact_text_masks_every_url_in_a_line(text, shown):
    assert redact_text(text) == shown


def test_one_redaction_function():
    """The tuner's storage label uses the same function as the team server."""
    from avsc.tuning.storage import redact

    url = f"postgresql://u:{DB_SECRET}@h/optuna"
    assert redact(url) == redact_url(url) == "postgresql://u:***@h/optuna"


def test_log_records_are_redacted_on_every_handler(caplog):
    """MLflow's, Optuna's and avsc's records alike: the filter sits on the handlers."""
    setup_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("mlflow.tracking").warning("request to %s failed", f"http://admin:{SECRET}@h:5000/api")
        logging.getLogger("avsc.tuning").info(f"storage postgresql://u:{DB_SECRET}@h/optuna")
    assert SECRET not in caplog.text and DB_SECRET not in caplog.text
    assert "http://admin:***@h:5000/api" in caplog.text


def _grep_tree(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.slow
def test_passwords_never_reach_the_store_the_logs_or_stderr(mlflow_server, tmp_path, monkeypatch, capsys, caplog):
    """A stage run and ``avsc tune`` with a password in the tracking URI and in the Optuna storage URL."""
    from avsc.config.settings import parse_params
    from avsc.tracking.runs import stage_run

    port, store = mlflow_server
    (tmp_path / "params.yaml").write_text("base: {seed: 1}\n")
    monkeypatch.setenv("AVSC_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://admin:{SECRET}@127.0.0.1:{port}")
    monkeypatch.setenv("AVSC_PIPELINE_RUN", "redaction-test")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):  # configure() fills them
        monkeypatch.delenv(name, raising=False)
    setup_logging()
    with caplog.at_level(logging.DEBUG):
        params = parse_params({})
        with stage_run(stage="train_audio", params=params, manifest={"data": "synthetic", "dataset_hash": "abc"}):
            logging.getLogger("avsc.test").info("tracking %s", os.environ["MLFLOW_TRACKING_URI"])
        storage = f"postgresql://optuna:{DB_SECRET}@127.0.0.1:9/optuna"
        code = main(["tune", "--study-name", "redacted", "--storage", storage, "--n-trials", "1"])
    out = capsys.readouterr()
    assert code != 0
    assert "postgresql" in out.err and "***" in out.err  # the storage is named, without its password
    for secret in (SECRET, DB_SECRET):
        assert secret not in out.out + out.err
        assert secret not in caplog.text
        assert not _grep_tree(store, secret), f"{secret} stored by the tracking server"
        assert not _grep_tree(tmp_path / "server", secret)
