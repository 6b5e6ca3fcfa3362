"""``avsc report systems``: the systems trained in this project, side by side, with the papers' numbers.

For every model system it finds in the project's MLflow store (the workspace's runs and those of
its DVC experiments, queued or not), the latest finished ``evaluate`` run gives the per-head
log-loss and accuracy, the final head's class-wise accuracy and the final model's parameter
counts; the training stages' runs give the time per epoch on this machine. Writes
``reports/systems.md`` and, for ``dvc plots``, ``reports/systems.csv`` (one row per system and
head) and ``reports/systems_per_class.csv``. A system with no evaluate run is not listed.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avsc.config.base import SYSTEMS
from avsc.data.tau import CLASSES
from avsc.evaluation.comparison import PUBLISHED, format_published
from avsc.heads import HEAD_NAMES
from avsc.io import atomic_write_text

log = logging.getLogger(__name__)

TRAIN_STAGES = ("train_audio", "train_visual", "train_fusion", "finetune")
#: Which published rows belong to which system (by the source that printed them).
PAPERS = {"secrnn": "Naranjo-Alcazar", "dualstream": "Hou", "joint": "Chen"}


@dataclass
class SystemResult:
    """One system's latest evaluation in this project."""

    system: str
    run_id: str
    data: str
    profile: str
    final_head: str
    dvc_exp: str | None
    heads: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_class: dict[str, float | None] = field(default_factory=dict)
    params_total: int | None = None
    params_trainable: int | None = None
    seconds_per_epoch: dict[str, float] = field(default_factory=dict)


def _latest(client: Any, experiment_id: str, query: str) -> Any | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=query + " and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def collect(client: Any, experiment_id: str, *, systems: tuple[str, ...] = SYSTEMS) -> dict[str, SystemResult]:
    """The latest evaluation of each system found in the experiment (systems without one are left out)."""
    found: dict[str, SystemResult] = {}
    for system in systems:
        run = _latest(client, experiment_id, f"tags.stage = 'evaluate' and tags.system = '{system}'")
        if run is None:
            continue
        tags, metrics = run.data.tags, run.data.metrics
        heads = sorted({k.split("/")[0] for k in metrics if k.count("/") == 1 and k.split("/")[0] in HEAD_NAMES})
        final = tags.get("final_head", "")
        result = SystemResult(
            system=system,
            run_id=run.info.run_id,
            data=tags.get("data", "?"),
            profile=tags.get("profile", "?"),
            final_head=final,
            dvc_exp=tags.get("dvc_exp"),
            heads={
                h: {"logloss": metrics.get(f"{h}/logloss"), "accuracy": metrics.get(f"{h}/accuracy")} for h in heads
            },
            per_class={c: metrics.get(f"{final}/accuracy/{c}") for c in CLASSES},
            params_total=_int(metrics.get("params_total")),
            params_trainable=_int(metrics.get("params_trainable")),
        )
        for stage in TRAIN_STAGES:
            trained = _latest(client, experiment_id, f"tags.stage = '{stage}' and tags.system = '{system}'")
            if trained is not None and "time/seconds_per_epoch" in trained.data.metrics:
                result.seconds_per_epoch[stage] = trained.data.metrics["time/seconds_per_epoch"]
        found[system] = result
    return found


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _num(value: float | None, *, scale: float = 1.0, decimals: int = 3) -> str:
    return "–" if value is None else f"{value * scale:.{decimals}f}"


def render_markdown(results: dict[str, SystemResult]) -> str:
    """The report (pure): one section per table, this project's rows next to each paper's."""
    lines = ["# Systems compared", ""]
    if not results:
        return "\n".join(
            [*lines, "No evaluated system yet: run `dvc repro` (and `dvc exp run -S model.system=...`).", ""]
        )
    if any(r.data == "synthetic" for r in results.values()):
        lines += [
            "> **Warning — synthetic data.** Systems marked *synthetic* were trained and evaluated on the "
            "synthetic sample, not on TAU Urban Audio-Visual Scenes 2021: their numbers only show that the "
            "pipeline runs; they are not comparable with the published numbers.",
            "",
        ]
    lines += [
        "## Final head (macro averages over the 10 classes, 1-s segments)",
        "",
        "| system | data | profile | final head | log-loss | accuracy (%) | parameters (total / trainable) |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in results.values():
        final = r.heads.get(r.final_head, {})
        params = "–" if r.params_total is None else f"{r.params_total:,} / {r.params_trainable:,}"
        lines.append(
            f"| **{r.system}** (this project) | {r.data} | {r.profile} | {r.final_head} | "
            f"{_num(final.get('logloss'))} | {_num(final.get('accuracy'), scale=100, decimals=1)} | {params} |"
        )
        for row in PUBLISHED:
            if PAPERS[r.system] in row.source and row.head in ("system", r.final_head):
                lines.append(
                    f"| {row.system} (published) | TAU | paper | – | "
                    f"{format_published(row.logloss, min_decimals=3)} | "
                    f"{format_published(row.accuracy, min_decimals=1)} | – |"
                )
    lines += [
        "",
        "## Every head",
        "",
        "| system | head | log-loss | accuracy (%) | published (same source) |",
        "|---|---|---:|---:|---|",
    ]
    for r in results.values():
        for head, m in r.heads.items():
            published = [
                f"{row.system}: {format_published(row.accuracy, min_decimals=1)} %"
                for row in PUBLISHED
                if PAPERS[r.system] in row.source and row.head == head
            ]
            lines.append(
                f"| {r.system} | {HEAD_NAMES.get(head, head)} | {_num(m.get('logloss'))} | "
                f"{_num(m.get('accuracy'), scale=100, decimals=1)} | {'; '.join(published) or '–'} |"
            )
    lines += [
        "",
        "## Class-wise accuracy of the final head (%)",
        "",
        "| class | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for c in CLASSES:
        cells = [_num(r.per_class.get(c), scale=100, decimals=1) for r in results.values()]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Training time per epoch on this machine (s)",
        "",
        "| system | " + " | ".join(TRAIN_STAGES) + " |",
        "|---|" + "---:|" * len(TRAIN_STAGES),
    ]
    for r in results.values():
        lines.append(
            f"| {r.system} | " + " | ".join(_num(r.seconds_per_epoch.get(s), decimals=1) for s in TRAIN_STAGES) + " |"
        )
    lines += [
        "",
        "Runs: "
        + ", ".join(
            f"{r.system} `{r.run_id}`" + (f" (DVC experiment {r.dvc_exp})" if r.dvc_exp else "")
            for r in results.values()
        ),
        "",
    ]
    return "\n".join(lines)


def heads_csv(results: dict[str, SystemResult]) -> str:
    """``label,system,head,logloss,accuracy`` rows (the ``dvc plots`` data; label = ``system/head``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "system", "head", "logloss", "accuracy"])
    for r in results.values():
        for head, m in r.heads.items():
            writer.writerow([f"{r.system}/{head}", r.system, head, m.get("logloss"), m.get("accuracy")])
    return buffer.getvalue()


def per_class_csv(results: dict[str, SystemResult]) -> str:
    """``class,system,accuracy`` rows of the final heads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "system", "accuracy"])
    for r in results.values():
        for c in CLASSES:
            writer.writerow([c, r.system, r.per_class.get(c)])
    return buffer.getvalue()


def write_report(results: dict[str, SystemResult], out_dir: Path) -> Path:
    """Write ``systems.md``, ``systems.csv`` and ``systems_per_class.csv`` into ``out_dir``."""
    atomic_write_text(out_dir / "systems.md", render_markdown(results))
    atomic_write_text(out_dir / "systems.csv", heads_csv(results))
    atomic_write_text(out_dir / "systems_per_class.csv", per_class_csv(results))
    return out_dir / "systems.md"


def cli_report_systems(args) -> int:
    """``avsc report systems``: collect from the project's MLflow store and write the report."""
    import mlflow

    from avsc.config.settings import find_root, load_params
    from avsc.tracking.service import ensure_experiment

    params = load_params(args.params)
    exp_id = ensure_experiment(params.base.experiment)
    results = collect(mlflow.MlflowClient(), exp_id)
    out = Path(args.out) if args.out else find_root() / params.base.reports_dir
    path = write_report(results, out)
    print(f"{path}: {', '.join(results) or 'no system evaluated yet'}")
    return 0
