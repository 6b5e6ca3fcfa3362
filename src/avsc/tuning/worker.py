"""One ``avsc tune`` worker: open the study, run trials until the budget is reached, report.

Several workers on one study cooperate (``load_if_exists``): each trial is reserved within the
budget (:mod:`avsc.tuning.budget`), trials of dead workers are failed and re-run once
(:mod:`avsc.tuning.liveness`). A worker whose own trials fail ``MAX_FAILURES_IN_ROW`` times in a
row stops (failed trials do not use up the budget, so it would otherwise never end).
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avsc.config.settings import Params
from avsc.errors import AvscError, ConfigError
from avsc.tuning import report, runs
from avsc.tuning.budget import DONE, WAIT, WAIT_POLL_S, next_trial
from avsc.tuning.liveness import StaleTrialWatch
from avsc.tuning.objective import run_trial
from avsc.tuning.options import TuneOptions
from avsc.tuning.retries import retry
from avsc.tuning.space import search_space
from avsc.tuning.storage import StorageHandle, open_storage

log = logging.getLogger(__name__)

MAX_FAILURES_IN_ROW = 3


@dataclass
class WorkerStats:
    started: float = field(default_factory=time.monotonic)
    mine: dict[str, int] = field(default_factory=lambda: {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0})
    failures_in_row: int = 0
    interrupted: bool = False


def work(
    study: Any,
    handle: StorageHandle,
    *,
    study_name: str,
    n_trials: int | None,
    timeout: float | None,
    sampler_seed: int,
    run_one: Callable[[Any], str],
    stats: WorkerStats,
) -> WorkerStats:
    """Reserve and run trials (``run_one(trial)`` returns the final state name) until the study is done."""
    watch = StaleTrialWatch(handle.kind)
    while True:
        if timeout is not None and time.monotonic() - stats.started > timeout:
            log.info("timeout of %.0f s reached", timeout)
            break
        trial = next_trial(
            study, handle, study_name=study_name, n_trials=n_trials, sampler_seed=sampler_seed, watch=watch
        )
        if trial == DONE:
            break
        if trial == WAIT:
            time.sleep(WAIT_POLL_S)
            continue
        state = run_one(trial)
        stats.mine[state] = stats.mine.get(state, 0) + 1
        stats.failures_in_row = stats.failures_in_row + 1 if state == "FAIL" else 0
        if stats.failures_in_row >= MAX_FAILURES_IN_ROW:
            log.error("%d trials of this worker failed in a row: stopping it", stats.failures_in_row)
            break
    return stats


def make_pruner(name: str, *, n_trials: int | None, max_epochs: int) -> Any:
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    startup = max(1, min(5, (n_trials or 8) // 3))
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def check_prerequisites(params: Params, root: Path, target: str) -> None:
    """The earlier stages' models a target step starts from must exist (one line naming them otherwise)."""
    from avsc.models.saving import model_path
    from avsc.systems import get_system

    needed = get_system(params.system).plan(target).starts_from
    missing = [s for s in needed if not model_path(params, root, s).is_file()]
    if missing:
        raise AvscError(
            f"tune --target {target} ({params.system}) needs the trained models of "
            f"{', '.join(missing)} ({', '.join(str(model_path(params, root, s)) for s in missing)} missing); "
            f"run `dvc repro {' '.join(missing)}` first"
        )


def open_study(handle: StorageHandle, params: Params, opts: TuneOptions) -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = retry(
            optuna.create_study,
            study_name=opts.study_name,
            storage=handle.storage,
            direction="minimize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=params.tune.sampler_seed),
            pruner=make_pruner(params.tune.pruner, n_trials=opts.n_trials, max_epochs=opts.max_epochs),
            what="optuna.create_study",
        )
    attrs = study.user_attrs
    if attrs.get("target") not in (None, opts.target):
        raise ConfigError(
            f"study {opts.study_name!r} tunes target {attrs['target']!r}, not {opts.target!r}; use another --study-name"
        )
    if "target" not in attrs:
        study.set_user_attr("target", opts.target)
        study.set_user_attr("objective", "validation macro class-wise log-loss (DCASE), 1-s segments")
    return study


def tune(params: Params, root: Path, opts: TuneOptions) -> dict:
    """Run this worker's share of the study; return the summary (also printed by the CLI)."""
    import optuna

    from avsc.systems import get_system
    from avsc.systems.base import bounded_segment_scores
    from avsc.training.arrays import load_split

    check_prerequisites(params, root, opts.target)
    space = search_space(params)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    handle = open_storage(opts.storage, root)
    study = open_study(handle, params, opts)
    log.info(
        "study %s on %s: target %s, %s trials, max %d epochs, pruner %s",
        opts.study_name,
        handle.label,
        opts.target,
        opts.n_trials if opts.n_trials is not None else "unlimited",
        opts.max_epochs,
        params.tune.pruner,
    )
    system = get_system(params.system)
    val = load_split(params, root, "validation", modalities=system.modalities(opts.target, params))

    def score(model: Any) -> tuple:
        """The DCASE objective's inputs: the step model's probabilities of every validation segment."""
        scores = bounded_segment_scores(system, model, val, batch_size=256, step=opts.target)
        head = system.primary_output(opts.target) or next(iter(scores.probas))
        return scores.probas[head], scores.y

    parent = runs.start_parent(
        runs.experiment_id(params, root), opts, params, storage_label=handle.label, space=space.describe()
    )
    run_one = functools.partial(
        run_trial, study, handle.kind, params=params, root=root, opts=opts, validation=score, space=space
    )
    stats, status = WorkerStats(), "FINISHED"
    try:
        work(
            study,
            handle,
            study_name=opts.study_name,
            n_trials=opts.n_trials,
            timeout=opts.timeout,
            sampler_seed=params.tune.sampler_seed,
            run_one=run_one,
            stats=stats,
        )
    except KeyboardInterrupt:
        stats.interrupted, status = True, "KILLED"
        log.warning("interrupted: stopping this worker (the study stays usable)")
        runs.end_open_trial_runs(parent.info.run_id)
    summary = report.summarize(study, opts, stats.mine, interrupted=stats.interrupted)
    if not summary["counts"]["COMPLETE"] and status == "FINISHED":
        status = "FAILED"
    try:
        if (path := report.write_best_params(params, root, opts, summary)) is not None:
            summary["best_params_file"] = str(path)
        report.log_artifacts(study, summary)
    finally:
        runs.end_parent(summary, status)
    summary["parent_run_id"] = parent.info.run_id
    return summary
