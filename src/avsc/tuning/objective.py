"""One trial: train with the trial's parameters, report every epoch, record the outcome.

Objective (minimised): the DCASE principal metric, the macro class-wise log-loss
(:func:`avsc.evaluation.metrics.dcase_metrics`) of the validation split's 1-s segments, computed
at every epoch end; the trial's value is the log-loss of the epoch the pipeline would keep (best
validation accuracy, whose weights ``fit`` restores). Macro accuracy is recorded too.

Per-epoch pruning is :class:`TrialReporter`, not ``optuna_integration.KerasPruningCallback``:
that callback reports a key of Keras' ``logs`` (our value is computed here from a prediction on
1-s segments), raises ``TrialPruned`` out of ``model.fit`` (losing the training state that names
the kept epoch, hence the trial's value) and prunes at the last epoch too, which would discard a
fully trained trial. Here pruning stops training after an epoch and never at the last one.

Once training has finished, the outcome is recorded whatever happens to the bookkeeping: storage
writes are retried; a trial that another worker meanwhile marked FAIL (its heartbeat judged stale)
is recorded again as a new COMPLETE trial with the same parameters; MLflow failures are logged.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avsc.config.settings import Params
from avsc.tuning import runs
from avsc.tuning.liveness import Heartbeat, heartbeat_for
from avsc.tuning.options import TuneOptions
from avsc.tuning.retries import best_effort, persist
from avsc.tuning.space import SearchSpace, apply_values, yaml_value

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    state: str  # COMPLETE | PRUNED
    value: float | None  # the objective (COMPLETE only)
    accuracy: float | None
    best_epoch: int | None  # 1-based
    epochs_run: int


def make_reporter(
    trial: Any,
    *,
    score: Callable[[Any], tuple[np.ndarray, np.ndarray]],
    max_epochs: int,
    pruning: bool,
    beat: Heartbeat,
):
    """The per-epoch callback: ``score(model)`` gives the validation segments' probabilities and labels."""
    import keras
    import optuna

    from avsc.evaluation.metrics import dcase_metrics

    class TrialReporter(keras.callbacks.Callback):
        """Validation log-loss at every epoch end → MLflow + ``trial.report``; prune after the epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.values: list[float] = []
            self.accuracies: list[float | None] = []
            self.pruned = False

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            beat.check()  # a dead heartbeat thread is restarted (or the trial fails) within one batch

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            beat.check()
            proba, y_val = score(self.model)
            metrics = dcase_metrics(y_val, proba)
            value = metrics["logloss"]
            if value is None or not math.isfinite(value):
                value = math.inf
            self.values.append(float(value))
            self.accuracies.append(metrics["accuracy"])
            runs.log_epoch(float(value), metrics["accuracy"], epoch)
            if math.isfinite(value):
                give_up = (optuna.exceptions.UpdateFinishedTrialError,)  # failed by another worker: abandon
                persist(trial.report, float(value), epoch, attempts=3, give_up_on=give_up, what="trial.report")
            if pruning and epoch + 1 < max_epochs and trial.should_prune():
                log.info("trial %d: pruned after epoch %d (val log-loss %.4f)", trial.number, epoch + 1, value)
                self.pruned = True
                self.model.stop_training = True

    return TrialReporter()


def train(
    trial: Any,
    trial_params: Params,
    root: Path,
    *,
    target: str,
    max_epochs: int,
    validation: Callable[[Any], tuple[np.ndarray, np.ndarray]],
    pruning: bool,
    beat: Heartbeat,
) -> Outcome:
    """Train one configuration on the cached features; raise if no usable epoch finished."""
    from avsc.training.loop import Checkpoints
    from avsc.training.stages import fit, step_settings

    reporter = make_reporter(trial, score=validation, max_epochs=max_epochs, pruning=pruning, beat=beat)
    scratch = Path(tempfile.mkdtemp(prefix=f"avsc-tune-{trial.number}-"))
    try:
        _, loop_state = fit(
            trial_params,
            root,
            target,
            cfg=step_settings(trial_params, target),
            callbacks=(reporter,),
            checkpoints=Checkpoints(scratch),
            log_mlflow=True,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    epochs_run = len(reporter.values)
    if not epochs_run:
        raise RuntimeError("no epoch finished")
    if reporter.pruned:
        return Outcome("PRUNED", None, None, None, epochs_run)
    best = loop_state.best_epoch if 0 <= loop_state.best_epoch < epochs_run else epochs_run - 1
    value = reporter.values[best]
    if not math.isfinite(value):
        raise RuntimeError(f"validation log-loss is {value}")
    return Outcome("COMPLETE", value, reporter.accuracies[best], best + 1, epochs_run)


def retried_from(study: Any, trial: Any) -> int | None:
    """The trial number a re-queued trial re-runs (Optuna's retry callback records it), else None."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen(study, trial.number))


def frozen(study: Any, number: int) -> Any:
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def run_trial(
    study: Any,
    kind: str,
    trial: Any,
    *,
    params: Params,
    root: Path,
    opts: TuneOptions,
    validation: Callable[[Any], tuple[np.ndarray, np.ndarray]],
    space: SearchSpace,
) -> str:
    """Train one trial inside its nested MLflow run; tell the study; return the final state name."""
    outcome: Outcome | None = None
    status, run_open = "FAILED", False
    with heartbeat_for(kind, trial) as beat:
        try:
            values = space.suggest(trial, opts.target)
            retry_of = retried_from(study, trial)
            if retry_of is not None:
                persist(trial.set_user_attr, "avsc_retry_of", retry_of, what="trial.set_user_attr")
            persist(trial.set_user_attr, "max_epochs", opts.max_epochs, what="trial.set_user_attr")
            trial_params = apply_values(params, values, target=opts.target, max_epochs=opts.max_epochs)
            runs.start_trial(opts, trial, values, retry_of=retry_of)
            run_open = True
            log.info("trial %d: %s", trial.number, ", ".join(f"{k}={yaml_value(v)}" for k, v in values.items()))
            outcome = train(
                trial,
                trial_params,
                root,
                target=opts.target,
                max_epochs=opts.max_epochs,
                validation=validation,
                pruning=params.tune.pruner != "none",
                beat=beat,
            )
        except KeyboardInterrupt:
            status = "KILLED"
            tell_fail(study, trial, "interrupted")
            raise
        except Exception as exc:
            log.exception("trial %d failed: %s", trial.number, exc)
            tell_fail(study, trial, f"{type(exc).__name__}: {exc}"[:500])
        else:
            record_outcome(study, trial, outcome)
            status = "FINISHED"
        finally:
            if run_open:
                state = outcome.state if outcome is not None and status == "FINISHED" else "FAIL"
                runs.end_trial(state, outcome.value if outcome else None, outcome.accuracy if outcome else None, status)
    state = outcome.state if outcome is not None else "FAIL"
    value = f", val log-loss {outcome.value:.4f}" if outcome is not None and outcome.value is not None else ""
    log.info("trial %d: %s%s", trial.number, state, value)
    return state


def tell_fail(study: Any, trial: Any, reason: str) -> None:
    """Mark a trial FAIL whose training did not produce a value."""
    from optuna.trial import TrialState

    best_effort(trial.set_user_attr, "avsc_failure", reason, what="trial.set_user_attr")
    best_effort(study.tell, trial, state=TrialState.FAIL, skip_if_finished=True, what="study.tell")


def record_outcome(study: Any, trial: Any, outcome: Outcome) -> None:
    """Store a trained trial's outcome: retried; never FAIL once the value is known."""
    import optuna
    from optuna.trial import TrialState

    attrs: dict[str, Any] = {"epochs_run": outcome.epochs_run}
    if outcome.state == "COMPLETE":
        attrs |= {"best_epoch": outcome.best_epoch} | (
            {"val_accuracy": outcome.accuracy} if outcome.accuracy is not None else {}
        )
    for key, val in attrs.items():
        best_effort(trial.set_user_attr, key, val, what=f"trial {trial.number}: set_user_attr {key}")
    try:
        if outcome.state == "PRUNED":
            persist(study.tell, trial, state=TrialState.PRUNED, skip_if_finished=True, what="study.tell")
        else:
            persist(study.tell, trial, outcome.value, skip_if_finished=True, what="study.tell")
        stored = persist(frozen, study, trial.number, what="reading the trial back")
        if stored.state.name == outcome.state:
            return
        if outcome.state == "PRUNED":  # no value to keep
            log.warning("trial %d: marked %s by another worker before it was pruned", trial.number, stored.state.name)
            return
        # Another worker marked it FAIL while it trained (heartbeat judged stale): keep the result anyway.
        log.warning(
            "trial %d: marked %s by another worker; recording its result as a new trial",
            trial.number,
            stored.state.name,
        )
        recovered = optuna.trial.create_trial(
            value=outcome.value,
            params=stored.params,
            distributions=stored.distributions,
            user_attrs={**stored.user_attrs, **attrs, "avsc_recovered_from": trial.number},
            intermediate_values=stored.intermediate_values,
        )
        persist(study.add_trial, recovered, what="study.add_trial")
    except Exception:
        log.error(
            "trial %d: could not record its result (val log-loss %s, params %s)",
            trial.number,
            outcome.value,
            dict(trial.params),
        )
        raise
