"""What a search leaves behind: the summary, ``params-best.yaml``, and the parent run's artifacts.

``tune.best_params_file`` (``params-best.yaml``) holds the best parameters in params.yaml terms
with the ``dvc exp run`` line that reproduces them; the MLflow parent run gets
``best_params.json`` and the optimisation-history / parameter-importance plots.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml

from avsc.config.settings import Params
from avsc.io import atomic_write_text
from avsc.tuning.options import TuneOptions
from avsc.tuning.retries import best_effort
from avsc.tuning.space import dvc_exp_line, yaml_value

log = logging.getLogger(__name__)


def summarize(study: Any, opts: TuneOptions, mine: dict[str, int], *, interrupted: bool) -> dict:
    """The study's state after this worker's share (``mine``: this worker's trials by state)."""
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
        "this_worker": dict(mine),
        "epochs_saved": saved,
        "best_trial": best.number if best else None,
        "best_value": float(best.value) if best else None,
        "best_accuracy": best.user_attrs.get("val_accuracy") if best else None,
        "best_params": best_params,
        "dvc_exp_run": dvc_exp_line(best_params) if best else None,
        "interrupted": interrupted,
    }


def write_best_params(params: Params, root: Path, opts: TuneOptions, summary: dict) -> Path | None:
    """``tune.best_params_file``: the best parameters and how to reproduce them (atomic)."""
    if not summary["best_params"]:
        return None
    path = root / params.tune.best_params_file
    header = (
        f"# Best configuration of Optuna study {opts.study_name!r} (target {opts.target}), written by "
        f"`avsc tune`.\n# Trial {summary['best_trial']}: validation macro log-loss "
        f"{summary['best_value']:.6f} after at most {opts.max_epochs} epochs.\n"
        f"# Reproduce with full tracking:\n#   {summary['dvc_exp_run']}\n"
    )
    atomic_write_text(path, header + yaml.safe_dump(summary["best_params"], sort_keys=True))
    return path


def log_artifacts(study: Any, summary: dict) -> None:
    """``best_params.json`` and the plots, as artifacts of the active (parent) run."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="avsc-tune-") as tmp_name:
        tmp = Path(tmp_name)
        keys = ("study", "target", "best_trial", "best_value", "best_params", "dvc_exp_run")
        (tmp / "best_params.json").write_text(json.dumps({k: summary[k] for k in keys}, indent=1))
        for f in [tmp / "best_params.json", *plot_study(study, tmp)]:
            best_effort(mlflow.log_artifact, str(f), what="mlflow.log_artifact")


def save_figure(fig: Any, path: Path) -> Path:
    """Save an Optuna matplotlib figure at a readable size and close it."""
    import matplotlib.pyplot as plt

    fig.set_size_inches(8, 5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_study(study: Any, folder: Path) -> list[Path]:
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
            out.append(save_figure(ax.figure, folder / "optimization_history.png"))
        else:
            log.info("no complete trial: optimisation-history plot skipped")
        if len(complete) >= 2:
            try:
                ax = optuna.visualization.matplotlib.plot_param_importances(study, target_name="val log-loss")
                out.append(save_figure(ax.figure, folder / "param_importances.png"))
            except Exception as exc:
                log.info("parameter-importance plot skipped: %s", exc)
        else:
            log.info("parameter-importance plot skipped: needs at least 2 complete trials (have %d)", len(complete))
    return out


def format_summary(summary: dict) -> str:
    c = summary["counts"]
    lines = [
        f"study {summary['study']} (target {summary['target']})",
        f"  trials      complete {c['COMPLETE']}  pruned {c['PRUNED']}  failed {c['FAIL']}  running {c['RUNNING']}",
        "  this worker " + "  ".join(f"{k.lower()} {v}" for k, v in summary["this_worker"].items()),
        f"  pruning saved {summary['epochs_saved']} epoch(s)",
    ]
    if summary["best_trial"] is not None:
        acc = summary.get("best_accuracy")
        lines.append(
            f"  best trial  {summary['best_trial']}: val log-loss {summary['best_value']:.4f}"
            + (f", macro accuracy {acc:.3f}" if acc is not None else "")
        )
        for k, v in sorted(summary["best_params"].items()):
            lines.append(f"    {k:<32} {yaml_value(v)}")
        if summary.get("best_params_file"):
            lines.append(f"  best params -> {summary['best_params_file']}")
        lines.append(f"  reproduce:  {summary['dvc_exp_run']}")
    else:
        lines.append("  no complete trial yet")
    return "\n".join(lines)
