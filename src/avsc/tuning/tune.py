"""``avsc tune``: an Optuna search over mixup alpha, the learning rate and the GRU sizes.

Objective (minimised): the DCASE principal metric, the macro class-wise log-loss
(:func:`avsc.evaluation.metrics.dcase_metrics`) of the validation split's 1-s segments, computed
at every epoch end; the trial's value is the log-loss of the epoch the pipeline would keep (best
validation accuracy, whose weights ``fit`` restores). Macro accuracy is recorded too.

Trials train on the cached features (no feature recomputation) through
:func:`avsc.training.stages.fit`, with the step's settings updated by the trial's parameters and
``epochs = max_epochs``. Every epoch's log-loss is reported to the trial; the pruner (median or
Hyperband, ``tune.pruner``) stops unpromising trials after that epoch.

Several ``avsc tune`` processes on one study cooperate (``load_if_exists``). Each new trial is
reserved under a lock (a file lock beside the journal / SQLite file, a PostgreSQL advisory lock),
so a study asked for ``--n-trials N`` ends with exactly ``N`` finished (complete or pruned) trials.
A trial left RUNNING by a killed worker is failed and re-queued once: with RDB storage through
Optuna's heartbeat (``heartbeat_interval=10``, ``grace_period=30``, ``RetryFailedTrialCallback``);
with journal storage (no heartbeat in Optuna) through the worker's host/pid/start time recorded on
the trial, plus a heartbeat user attribute for workers on other hosts.

MLflow: one parent run per invocation (``stage=tune``), one nested run per trial tagged
``optuna_study``, ``optuna_trial`` and ``optuna_state``; the parent run gets ``best_params.json``
and the optimisation-history / parameter-importance plots. The best parameters are written to
``tune.best_params_file`` (``params-best.yaml``) in params.yaml terms, with the ``dvc exp run``
line that reproduces them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from avsc.config.settings import Params, find_root, load_params
from avsc.data.media import atomic_write_text
from avsc.errors import AvscError, ConfigError

log = logging.getLogger(__name__)

OBJECTIVE = "val/logloss"
JOURNAL_HEARTBEAT_S = 10.0
JOURNAL_GRACE_S = 120.0
RDB_HEARTBEAT_S = 10
RDB_GRACE_S = 30
WAIT_POLL_S = 2.0
STAGE = {"audio": "train_audio", "visual": "train_visual", "fusion": "train_fusion"}


# --------------------------------------------------------------------------------------------
# retries (SQLite "database is locked", concurrent schema creation)


def retry(fn: Callable, *args, attempts: int = 8, what: str = "", **kwargs):
    """Call ``fn`` again (with back-off) when it fails because a database is locked/busy."""
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - filtered on the message below
            text = str(exc).lower()
            transient = any(s in text for s in ("database is locked", "database is busy", "deadlock",
                                                "could not serialize", "already exists", "duplicate key"))
            if not transient or attempt == attempts:
                raise
            log.debug("%s: transient database error (%s), retry %d", what or getattr(fn, "__name__", fn),
                      exc, attempt)
            time.sleep(0.3 * attempt)
    return None


# --------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class TuneOptions:
    study_name: str
    target: str
    n_trials: int | None
    timeout: float | None
    max_epochs: int
    storage: str


def options_from_args(args, params: Params) -> TuneOptions:
    t = params.tune
    n_trials = args.n_trials if args.n_trials is not None else (None if args.timeout else t.n_trials)
    opts = TuneOptions(study_name=args.study_name, target=args.target or t.target, n_trials=n_trials,
                       timeout=args.timeout, max_epochs=args.max_epochs or t.max_epochs,
                       storage=args.storage or t.storage)
    if opts.n_trials is not None and opts.n_trials < 1:
        raise ConfigError("--n-trials must be at least 1")
    if opts.max_epochs < 1:
        raise ConfigError("--max-epochs must be at least 1")
    return opts


def search_space_keys(target: str) -> list[str]:
    """The params.yaml keys a ``target`` search tunes."""
    stage = STAGE[target]
    keys = [f"{stage}.learning_rate", f"{stage}.mixup_alpha"]
    if target in ("visual", "fusion"):
        keys.append(f"model.{target}.gru_units")
    return keys


def suggest(trial, params: Params, target: str) -> dict[str, Any]:
    """Sample one configuration; Optuna parameter names are the params.yaml keys."""
    space = params.tune.space
    stage = STAGE[target]
    values: dict[str, Any] = {
        f"{stage}.learning_rate": trial.suggest_float(f"{stage}.learning_rate", *space.learning_rate, log=True),
        f"{stage}.mixup_alpha": trial.suggest_float(f"{stage}.mixup_alpha", *space.mixup_alpha),
    }
    if target == "visual":
        values["model.visual.gru_units"] = trial.suggest_categorical("model.visual.gru_units",
                                                                     list(space.visual_gru_units))
    elif target == "fusion":
        values["model.fusion.gru_units"] = trial.suggest_categorical("model.fusion.gru_units",
                                                                     list(space.fusion_gru_units))
    return values


def apply_values(params: Params, values: dict[str, Any], *, target: str, max_epochs: int) -> Params:
    """A copy of ``params`` with dotted ``values`` set and the step's epochs = ``max_epochs``."""
    data = params.model_dump(by_alias=True)
    for key, value in {**values, f"{STAGE[target]}.epochs": max_epochs}.items():
        node = data
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        if last not in node:
            raise ConfigError(f"tune: {key} is not a params.yaml key")
        node[last] = value
    return Params.model_validate(data)


def yaml_value(value: Any) -> str:
    """A value as DVC's ``-S key=value`` parses it back exactly (no exponent notation)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, unique=True, trim="0")
    return str(value)


def dvc_exp_line(best: dict[str, Any]) -> str:
    return "dvc exp run " + " ".join(f"-S '{k}={yaml_value(v)}'" for k, v in sorted(best.items()))


# --------------------------------------------------------------------------------------------
# storage


@dataclass
class StorageHandle:
    storage: Any
    kind: str  # journal | postgresql | sqlite | rdb
    label: str  # for logs (password redacted)
    lock_path: Path | None = None
    url: str | None = None


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url.split("@")[-1]


def normalize_rdb_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg2://`` when psycopg 3 (SQLAlchemy 2.1's default) is absent."""
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def open_storage(spec: str, root: Path) -> StorageHandle:
    """``journal:PATH`` (relative to the repository root) or an RDB URL."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryFailedTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if spec.startswith("journal:"):
        path = Path(spec.removeprefix("journal:"))
        path = path if path.is_absolute() else root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(path)))
        return StorageHandle(storage, "journal", f"journal:{path}", lock_path=Path(f"{path}.avsc-lock"))
    if "://" not in spec:
        raise ConfigError(f"tune storage {spec!r}: expected journal:PATH or an RDB URL (postgresql://, sqlite:///)")
    spec = normalize_rdb_url(spec)
    kind = "postgresql" if spec.startswith("postgres") else "sqlite" if spec.startswith("sqlite") else "rdb"
    engine_kwargs: dict[str, Any] = {}
    lock_path = None
    if kind == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": 60}}
        db = Path(spec.split(":///", 1)[1].split("?")[0])
        db.parent.mkdir(parents=True, exist_ok=True)
        lock_path = Path(f"{db}.avsc-lock")
    elif kind == "postgresql":
        engine_kwargs = {"pool_pre_ping": True}

    def make():
        with _file_lock(lock_path):
            return RDBStorage(spec, engine_kwargs=engine_kwargs, heartbeat_interval=RDB_HEARTBEAT_S,
                              grace_period=RDB_GRACE_S,
                              failed_trial_callback=RetryFailedTrialCallback(max_retry=1))

    import sqlalchemy.exc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = retry(make, what="optuna RDB storage")
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ConfigError(f"tune storage {_redact(spec)}: cannot be opened ({first})") from None
    return StorageHandle(storage, kind, _redact(spec), lock_path=lock_path, url=spec)


@contextlib.contextmanager
def _file_lock(path: Path | None):
    if path is None:
        yield
        return
    from filelock import FileLock

    with FileLock(str(path), timeout=600):
        yield


@contextlib.contextmanager
def reservation_lock(handle: StorageHandle, study_name: str):
    """Serialise "count the trials, then ask a new one" across the workers of one study."""
    if handle.kind == "postgresql":
        from sqlalchemy import text

        key = zlib.crc32(f"avsc-tune:{study_name}".encode()) & 0x7FFFFFFF
        with handle.storage.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    with _file_lock(handle.lock_path):
        yield


# --------------------------------------------------------------------------------------------
# stale trials of killed workers (journal storage has no Optuna heartbeat)


def _proc_start(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - no such process / no access
        return None


def worker_identity() -> dict[str, Any]:
    return {"avsc_host": socket.gethostname(), "avsc_pid": os.getpid(), "avsc_pid_start": _proc_start(os.getpid())}


def _worker_dead(attrs: dict, now: float) -> bool:
    host, pid, started = attrs.get("avsc_host"), attrs.get("avsc_pid"), attrs.get("avsc_pid_start")
    if host == socket.gethostname() and pid is not None:
        current = _proc_start(int(pid))
        if current is None:
            return True
        if started is not None and abs(current - float(started)) > 1.0:
            return True  # the pid was reused by another process
        return False
    beat = attrs.get("avsc_heartbeat")
    return beat is not None and now - float(beat) > JOURNAL_GRACE_S


def fail_stale_trials(study, handle: StorageHandle) -> list[int]:
    """Fail trials left RUNNING by dead workers; re-queue each once. Returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    if handle.kind != "journal":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
            optuna.storages.fail_stale_trials(study)
            after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
        failed = sorted(before & after)
        for n in failed:
            log.warning("trial %d: its worker stopped sending heartbeats; marked FAIL and re-queued", n)
        return failed
    now = time.time()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _worker_dead(t.user_attrs, now):
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, "avsc_failure", "worker killed")
            ok = study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            ok = False  # another worker got there first
        if not ok:
            continue
        failed.append(t.number)
        if "avsc_retry_of" not in t.user_attrs and t.params:
            study.enqueue_trial(t.params, user_attrs={"avsc_retry_of": t.number}, skip_if_exists=False)
            log.warning("trial %d: its worker (pid %s) is gone; marked FAIL and re-queued", t.number,
                        t.user_attrs.get("avsc_pid"))
        else:
            log.warning("trial %d: its worker (pid %s) is gone; marked FAIL", t.number, t.user_attrs.get("avsc_pid"))
    return failed


class JournalHeartbeat:
    """Record ``avsc_heartbeat`` on the running trial every few seconds (journal storage only)."""

    def __init__(self, storage, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(JOURNAL_HEARTBEAT_S):
            try:
                self.storage.set_trial_user_attr(self.trial_id, "avsc_heartbeat", time.time())
            except Exception:  # noqa: BLE001 - the trial may have finished meanwhile
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)


def heartbeat(study, handle: StorageHandle, trial):
    if handle.kind == "journal":
        return JournalHeartbeat(study._storage, trial._trial_id)
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)


# --------------------------------------------------------------------------------------------
# the per-epoch objective callback


def make_reporter(trial, *, x_val, y_val, fused: bool, max_epochs: int, pruning: bool):
    import keras

    from avsc.evaluation.metrics import dcase_metrics
    from avsc.training.inputs import OUTPUT_KEYS

    class TrialReporter(keras.callbacks.Callback):
        """Validation log-loss at every epoch end → MLflow + ``trial.report``; prune after the epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.values: list[float] = []
            self.accuracies: list[float | None] = []
            self.pruned = False

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            proba = self.model.predict(x_val, batch_size=256, verbose=0)
            if isinstance(proba, dict):
                proba = proba["late"]
            elif isinstance(proba, (list, tuple)):
                proba = proba[list(OUTPUT_KEYS).index("late")]
            metrics = dcase_metrics(y_val, np.asarray(proba))
            value = metrics["logloss"]
            if value is None or not math.isfinite(value):
                value = float((logs or {}).get("val_late_loss" if fused else "val_loss", math.inf))
            self.values.append(float(value))
            self.accuracies.append(metrics["accuracy"])
            record = {OBJECTIVE: float(value)}
            if metrics["accuracy"] is not None:
                record["val/macro_accuracy"] = float(metrics["accuracy"])
            import mlflow

            retry(mlflow.log_metrics, record, step=epoch, what="mlflow.log_metrics")
            if math.isfinite(value):
                trial.report(float(value), epoch)
            if pruning and epoch + 1 < max_epochs and trial.should_prune():
                log.info("trial %d: pruned after epoch %d (val log-loss %.4f)", trial.number, epoch + 1, value)
                self.pruned = True
                self.model.stop_training = True

    return TrialReporter()


# --------------------------------------------------------------------------------------------
# the worker


@dataclass
class WorkerStats:
    started: float = field(default_factory=time.monotonic)
    mine: dict[str, int] = field(default_factory=lambda: {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0})
    interrupted: bool = False


def make_pruner(name: str, *, n_trials: int | None, max_epochs: int):
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    startup = max(1, min(5, (n_trials or 8) // 3))
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def check_prerequisites(params: Params, root: Path, target: str) -> None:
    if target != "fusion":
        return
    from avsc.training.stages import MODEL_FILE, model_dir

    missing = [s for s in ("train_audio", "train_visual") if not (model_dir(params, root, s) / MODEL_FILE).is_file()]
    if missing:
        raise AvscError(f"tune --target fusion needs the trained audio and visual models "
                        f"({', '.join(str(model_dir(params, root, s) / MODEL_FILE) for s in missing)} missing); "
                        "run `dvc repro train_visual train_audio` first")


def _mlflow_setup(params: Params, root: Path) -> str:
    """Experiment id; the first creation of a local SQLite store is serialised across processes."""
    from avsc.tracking.service import ensure_experiment, tracking_uri

    uri = tracking_uri(root)
    lock = None
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///").split("?")[0])
        db.parent.mkdir(parents=True, exist_ok=True)
        lock = Path(f"{db}.avsc-init-lock")
    with _file_lock(lock):
        return retry(ensure_experiment, params.base.experiment, root, what="mlflow experiment")


def run_trial(study, handle: StorageHandle, trial, *, params: Params, root: Path, opts: TuneOptions,
              validation, stats: WorkerStats) -> str:
    """Train one trial inside its nested MLflow run; tell the study; return the final state name."""
    import mlflow
    import optuna
    from optuna.trial import TrialState

    from avsc.training.loop import Checkpoints
    from avsc.training.stages import fit, step_settings

    for key, value in worker_identity().items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("avsc_heartbeat", time.time())
    trial.set_user_attr("max_epochs", opts.max_epochs)
    values = suggest(trial, params, opts.target)
    trial_params = apply_values(params, values, target=opts.target, max_epochs=opts.max_epochs)
    cfg = step_settings(trial_params, opts.target)
    x_val, y_val = validation
    reporter = make_reporter(trial, x_val=x_val, y_val=y_val, fused=opts.target == "fusion",
                             max_epochs=opts.max_epochs, pruning=params.tune.pruner != "none")
    tags = {"stage": "tune_trial", "optuna_study": opts.study_name, "optuna_trial": str(trial.number),
            "optuna_state": "RUNNING", "tune_target": opts.target}
    if "avsc_retry_of" in trial.user_attrs:
        tags["optuna_retry_of"] = str(trial.user_attrs["avsc_retry_of"])
    run = retry(mlflow.start_run, run_name=f"{opts.study_name} trial {trial.number}", nested=True, tags=tags,
                what="mlflow.start_run")
    scratch = Path(tempfile.mkdtemp(prefix=f"avsc-tune-{trial.number}-"))
    state, status, value = TrialState.FAIL, "FAILED", None
    log.info("trial %d: %s", trial.number, ", ".join(f"{k}={yaml_value(v)}" for k, v in values.items()))
    try:
        retry(mlflow.log_params, {**{k: yaml_value(v) for k, v in values.items()}, "max_epochs": opts.max_epochs,
                                  "target": opts.target, "optuna_trial": trial.number}, what="mlflow.log_params")
        with heartbeat(study, handle, trial):
            _, loop_state = fit(trial_params, root, opts.target, cfg=cfg, callbacks=(reporter,),
                                checkpoints=Checkpoints(scratch), log_mlflow=True)
        epochs_run = len(reporter.values)
        trial.set_user_attr("epochs_run", epochs_run)
        if not reporter.values:
            raise RuntimeError("no epoch finished")
        if reporter.pruned:
            state, status = TrialState.PRUNED, "FINISHED"
            study.tell(trial, state=TrialState.PRUNED)
        else:
            best_epoch = loop_state.best_epoch if 0 <= loop_state.best_epoch < epochs_run else epochs_run - 1
            value = reporter.values[best_epoch]
            if not math.isfinite(value):
                raise RuntimeError(f"validation log-loss is {value}")
            acc = reporter.accuracies[best_epoch]
            if acc is not None:
                trial.set_user_attr("val_accuracy", acc)
            trial.set_user_attr("best_epoch", best_epoch + 1)
            study.tell(trial, value)
            state, status = TrialState.COMPLETE, "FINISHED"
            retry(mlflow.log_metrics, {"objective_logloss": value, **({"objective_accuracy": acc} if acc is not None
                                                                       else {})}, what="mlflow.log_metrics")
    except KeyboardInterrupt:
        status = "KILLED"
        _tell_fail(study, trial, "interrupted")
        raise
    except (optuna.TrialPruned,) as exc:  # pragma: no cover - pruning is signalled through the reporter
        state, status = TrialState.PRUNED, "FINISHED"
        study.tell(trial, state=TrialState.PRUNED)
        log.info("trial %d: %s", trial.number, exc)
    except Exception as exc:  # noqa: BLE001 - one failing trial must not end the study
        log.exception("trial %d failed: %s", trial.number, exc)
        _tell_fail(study, trial, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(Exception):
            retry(mlflow.set_tag, "optuna_state", state.name if status != "KILLED" else "FAIL", what="mlflow.set_tag")
            if value is not None:
                retry(mlflow.set_tag, "optuna_value", f"{value:.6f}", what="mlflow.set_tag")
        retry(mlflow.end_run, status=status, what="mlflow.end_run")
    stats.mine[state.name] = stats.mine.get(state.name, 0) + 1
    log.info("trial %d: %s%s (run %s)", trial.number, state.name,
             f", val log-loss {value:.4f}" if value is not None else "", run.info.run_id)
    return state.name


def _tell_fail(study, trial, reason: str) -> None:
    from optuna.trial import TrialState

    with contextlib.suppress(Exception):
        trial.set_user_attr("avsc_failure", reason)
    with contextlib.suppress(Exception):
        study.tell(trial, state=TrialState.FAIL)


def next_trial(study, handle: StorageHandle, *, opts: TuneOptions, sampler_seed: int):
    """Reserve the next trial, or return ``"done"`` (study has N finished) / ``"wait"`` (others running)."""
    import optuna
    from optuna.trial import TrialState

    fail_stale_trials(study, handle)
    with reservation_lock(handle, opts.study_name):
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if opts.n_trials is not None:
            if done >= opts.n_trials:
                return "done"
            if done + running >= opts.n_trials:
                return "wait"
        # One seeded sampler per trial number: a single worker's study is reproducible, and
        # concurrent workers never draw the same startup configuration.
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed + len(trials))
        return retry(study.ask, what="study.ask")


def _study_user_attrs(study, opts: TuneOptions) -> None:
    attrs = study.user_attrs
    if attrs.get("target") not in (None, opts.target):
        raise ConfigError(f"study {opts.study_name!r} tunes target {attrs['target']!r}, not {opts.target!r}; "
                          "use another --study-name")
    if "target" not in attrs:
        study.set_user_attr("target", opts.target)
        study.set_user_attr("objective", "validation macro class-wise log-loss (DCASE), 1-s segments")


def tune(params: Params, root: Path, opts: TuneOptions) -> dict:
    """Run this worker's share of the study; return the summary (also printed by the CLI)."""
    import mlflow
    import optuna

    from avsc.training.inputs import load_split, segment_set
    from avsc.training.stages import STEPS

    check_prerequisites(params, root, opts.target)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    handle = open_storage(opts.storage, root)
    pruner = make_pruner(params.tune.pruner, n_trials=opts.n_trials, max_epochs=opts.max_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = retry(optuna.create_study, study_name=opts.study_name, storage=handle.storage,
                      direction="minimize", load_if_exists=True,
                      sampler=optuna.samplers.TPESampler(seed=params.tune.sampler_seed), pruner=pruner,
                      what="optuna.create_study")
    _study_user_attrs(study, opts)
    log.info("study %s on %s: target %s, %s trials, max %d epochs, pruner %s", opts.study_name, handle.label,
             opts.target, opts.n_trials if opts.n_trials is not None else "unlimited", opts.max_epochs,
             params.tune.pruner)

    spec = STEPS[opts.target]
    val = load_split(params, root, "validation", modalities=spec.modalities)
    x_val, y_val, _, _ = segment_set(val, modalities=spec.modalities)

    exp_id = _mlflow_setup(params, root)
    parent = retry(mlflow.start_run, experiment_id=exp_id, run_name=f"tune {opts.study_name}",
                   tags={"stage": "tune", "optuna_study": opts.study_name, "tune_target": opts.target,
                         "optuna_storage": handle.label}, what="mlflow.start_run")
    retry(mlflow.log_params, {"target": opts.target, "max_epochs": opts.max_epochs,
                              "n_trials": str(opts.n_trials), "timeout_s": str(opts.timeout),
                              "pruner": params.tune.pruner, "sampler": "TPE",
                              "sampler_seed": params.tune.sampler_seed, "storage": handle.label,
                              "objective": "val macro class-wise log-loss",
                              **{f"space.{k}": str(list(v)) for k, v in params.tune.space.model_dump().items()}},
          what="mlflow.log_params")
    stats = WorkerStats()
    parent_status = "FINISHED"
    try:
        while True:
            if opts.timeout is not None and time.monotonic() - stats.started > opts.timeout:
                log.info("timeout of %.0f s reached", opts.timeout)
                break
            trial = next_trial(study, handle, opts=opts, sampler_seed=params.tune.sampler_seed)
            if trial == "done":
                break
            if trial == "wait":
                time.sleep(WAIT_POLL_S)
                continue
            run_trial(study, handle, trial, params=params, root=root, opts=opts, validation=(x_val, y_val),
                      stats=stats)
    except KeyboardInterrupt:
        stats.interrupted = True
        parent_status = "KILLED"
        log.warning("interrupted: stopping this worker (the study stays usable)")
        while mlflow.active_run() is not None and mlflow.active_run().info.run_id != parent.info.run_id:
            with contextlib.suppress(Exception):
                mlflow.set_tag("optuna_state", "FAIL")
            mlflow.end_run(status="KILLED")
    summary = summarize(study, opts, stats)
    try:
        finish(study, params, root, opts, summary)
    finally:
        with contextlib.suppress(Exception):
            retry(mlflow.log_metrics, {k: float(v) for k, v in summary["counts"].items()} |
                  {"epochs_saved": float(summary["epochs_saved"])} |
                  ({"best_value": summary["best_value"]} if summary["best_value"] is not None else {}),
                  what="mlflow.log_metrics")
        retry(mlflow.end_run, status=parent_status, what="mlflow.end_run")
    summary["parent_run_id"] = parent.info.run_id
    return summary


def summarize(study, opts: TuneOptions, stats: WorkerStats) -> dict:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    saved = 0
    for t in trials:
        if t.state == TrialState.PRUNED:
            max_e = int(t.user_attrs.get("max_epochs", opts.max_epochs))
            ran = int(t.user_attrs.get("epochs_run", len(t.intermediate_values)))
            saved += max(0, max_e - ran)
    best = None
    with contextlib.suppress(ValueError):
        best = study.best_trial
    best_params = dict(best.params) if best else {}
    return {
        "study": opts.study_name,
        "target": opts.target,
        "counts": counts,
        "this_worker": dict(stats.mine),
        "epochs_saved": saved,
        "best_trial": best.number if best else None,
        "best_value": float(best.value) if best else None,
        "best_accuracy": best.user_attrs.get("val_accuracy") if best else None,
        "best_params": best_params,
        "dvc_exp_run": dvc_exp_line(best_params) if best else None,
        "interrupted": stats.interrupted,
    }


def finish(study, params: Params, root: Path, opts: TuneOptions, summary: dict) -> None:
    """params-best.yaml, best_params.json and the plots (artifacts of the parent run)."""
    import mlflow

    if summary["best_params"]:
        path = root / params.tune.best_params_file
        header = (f"# Best configuration of Optuna study {opts.study_name!r} (target {opts.target}), written by "
                  f"`avsc tune`.\n# Trial {summary['best_trial']}: validation macro log-loss "
                  f"{summary['best_value']:.6f} after at most {opts.max_epochs} epochs.\n"
                  f"# Reproduce with full tracking:\n#   {summary['dvc_exp_run']}\n")
        atomic_write_text(path, header + yaml.safe_dump(summary["best_params"], sort_keys=True))
        summary["best_params_file"] = str(path)
    with tempfile.TemporaryDirectory(prefix="avsc-tune-") as tmp:
        tmp = Path(tmp)
        (tmp / "best_params.json").write_text(json.dumps(
            {k: summary[k] for k in ("study", "target", "best_trial", "best_value", "best_params", "dvc_exp_run")},
            indent=1))
        files = [tmp / "best_params.json"]
        files += plot_study(study, tmp)
        for f in files:
            retry(mlflow.log_artifact, str(f), what="mlflow.log_artifact")



def _save_figure(fig, path: Path) -> Path:
    """Save an Optuna matplotlib figure at a readable size and close it."""
    import matplotlib.pyplot as plt

    fig.set_size_inches(8, 5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

def plot_study(study, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.trial import TrialState

    out = []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if complete:
            ax = optuna.visualization.matplotlib.plot_optimization_history(study, target_name="val log-loss")
            out.append(_save_figure(ax.figure, folder / "optimization_history.png"))
        else:
            log.info("no complete trial: optimisation-history plot skipped")
        if len(complete) >= 2:
            try:
                ax = optuna.visualization.matplotlib.plot_param_importances(study, target_name="val log-loss")
                out.append(_save_figure(ax.figure, folder / "param_importances.png"))
            except Exception as exc:  # noqa: BLE001 - e.g. every trial with the same parameters
                log.info("parameter-importance plot skipped: %s", exc)
        else:
            log.info("parameter-importance plot skipped: needs at least 2 complete trials (have %d)", len(complete))
    return out


def format_summary(summary: dict) -> str:
    c = summary["counts"]
    lines = [
        f"study {summary['study']} (target {summary['target']})",
        f"  trials      complete {c['COMPLETE']}  pruned {c['PRUNED']}  failed {c['FAIL']}  running {c['RUNNING']}",
        f"  this worker " + "  ".join(f"{k.lower()} {v}" for k, v in summary["this_worker"].items()),
        f"  pruning saved {summary['epochs_saved']} epoch(s)",
    ]
    if summary["best_trial"] is not None:
        acc = summary.get("best_accuracy")
        lines.append(f"  best trial  {summary['best_trial']}: val log-loss {summary['best_value']:.4f}"
                     + (f", macro accuracy {acc:.3f}" if acc is not None else ""))
        for k, v in sorted(summary["best_params"].items()):
            lines.append(f"    {k:<32} {yaml_value(v)}")
        if summary.get("best_params_file"):
            lines.append(f"  best params -> {summary['best_params_file']}")
        lines.append(f"  reproduce:  {summary['dvc_exp_run']}")
    else:
        lines.append("  no complete trial yet")
    return "\n".join(lines)


def cli_tune(args) -> int:
    from avsc.tracking.service import configure

    params = load_params(args.params)
    root = find_root()
    opts = options_from_args(args, params)
    configure(root)
    summary = tune(params, root, opts)
    text = format_summary(summary)
    log.info("tune: study %s finished for this worker", opts.study_name)
    print(text, flush=True)
    return 130 if summary["interrupted"] else 0
