"""Opening the Optuna storage: ``journal:PATH`` (default) or an RDB URL (PostgreSQL, SQLite).

RDB storages get Optuna's heartbeat (the database's own clock decides staleness) and its retry of
heartbeat-stale trials (:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`, once). The
journal file is written under Optuna's ``JournalFileOpenLock`` (an ``O_EXCL`` lock file, safe on
NFSv3+); the same lock class guards avsc's own critical sections beside it (:func:`file_lock`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsc.errors import ConfigError
from avsc.tuning import liveness
from avsc.tuning.retries import retry


@dataclass(frozen=True)
class StorageHandle:
    """An opened storage and what the rest of the tuner needs to know about it."""

    storage: Any
    kind: str  # journal | postgresql | sqlite | rdb
    label: str  # for logs and MLflow (password redacted)
    lock_base: Path | None = None  # file-based storages: path the avsc lock files sit beside
    url: str | None = None  # RDB URL (normalised; with password)


def redact(url: str) -> str:
    """``url`` with its password hidden (:func:`avsc.tracking.service.redact_url`)."""
    from avsc.secrets import redact_url

    return redact_url(url)


def normalize_rdb_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg2://`` when psycopg 3 (SQLAlchemy 2.1's default) is absent."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    """Hold Optuna's ``O_EXCL`` lock file ``<path>.lock`` (a killed holder's lock is broken after 30 s)."""
    if path is None:
        yield
        return
    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def open_storage(spec: str, root: Path) -> StorageHandle:
    """``journal:PATH`` (relative to the repository root) or an RDB URL."""
    if spec.startswith("journal:"):
        return _open_journal(Path(spec.removeprefix("journal:")), root)
    if "://" not in spec:
        raise ConfigError(f"tune storage {spec!r}: expected journal:PATH or an RDB URL (postgresql://, sqlite:///)")
    return _open_rdb(normalize_rdb_url(spec))


def _open_journal(path: Path, root: Path) -> StorageHandle:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = path if path.is_absolute() else root / path
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    return StorageHandle(storage, "journal", f"journal:{path}", lock_base=Path(f"{path}.avsc-reserve"))


def _open_rdb(url: str) -> StorageHandle:
    import optuna
    import sqlalchemy.exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    kind = "postgresql" if url.startswith("postgres") else "sqlite" if url.startswith("sqlite") else "rdb"
    engine_kwargs: dict[str, Any] = {}
    lock_base = None
    if kind == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": 60}}
        db = Path(url.split(":///", 1)[1].split("?", maxsplit=1)[0])
        db.parent.mkdir(parents=True, exist_ok=True)
        lock_base = Path(f"{db}.avsc-reserve")
    elif kind == "postgresql":
        engine_kwargs = {"pool_pre_ping": True}

    def make() -> Any:
        with file_lock(lock_base):  # SQLite: one process creates the schema at a time
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=liveness.RDB_HEARTBEAT_S,
                grace_period=liveness.RDB_GRACE_S,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = retry(make, what="optuna RDB storage")
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ConfigError(f"tune storage {redact(url)}: cannot be opened ({first})") from None
    return StorageHandle(storage, kind, redact(url), lock_base=lock_base, url=url)
