"""This run's numbers next to the published ones (``shared/REFERENCE.md``), as Markdown.

Published accuracies are kept in percent exactly as printed in their source; this run's accuracy
(a fraction in the metrics) is shown in percent with one decimal, its log-loss with three.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsc.heads import HEAD_NAMES, PER_HEAD_PUBLISHED
from avsc.io import atomic_write_text

LOG = logging.getLogger(__name__)

SRC_BASELINE = "DCASE 2021 Task 1B baseline (Wang et al., 2021)"
SRC_SECRNN_T1 = "SE-CRNN seed (Naranjo-Alcazar et al., 2021), Table 1"
SRC_SECRNN_T2 = "SE-CRNN seed (Naranjo-Alcazar et al., 2021), Table 2"
SRC_DUAL = "Dual-stream CNN seed (Hou et al., 2021)"
SRC_JOINT = "Joint-optimization seed (Chen et al., 2022)"
SRC_CHALLENGE = "DCASE 2021 Task 1B challenge results"


@dataclass(frozen=True)
class PublishedResult:
    """One published number pair.

    ``accuracy`` is in percent as printed; ``head`` groups comparable rows: ``audio``, ``visual``,
    ``early``, ``late`` or ``system`` (a whole audio-visual system with its own fusion).
    """

    system: str
    source: str
    logloss: float | None
    accuracy: float | None
    note: str
    head: str


PUBLISHED: tuple[PublishedResult, ...] = (
    PublishedResult("DCASE 2021 baseline, audio only (OpenL3)", SRC_BASELINE, 1.048, 65.1, "development set", "audio"),
    PublishedResult("DCASE 2021 baseline, video only (OpenL3)", SRC_BASELINE, 1.648, 64.9, "development set", "visual"),
    PublishedResult("DCASE 2021 baseline, early fusion", SRC_BASELINE, 0.963, 77.5, "development set", "early"),
    PublishedResult(
        "DCASE 2021 baseline, proposed (official baseline)", SRC_BASELINE, 0.658, 77.0, "development set", "system"
    ),
    PublishedResult("SE-CRNN, audio only, gammatone", SRC_SECRNN_T1, None, 69.0, "development set", "audio"),
    PublishedResult("SE-CRNN, audio only, log-mel", SRC_SECRNN_T1, None, 68.4, "development set", "audio"),
    PublishedResult(
        "SE-CRNN, visual only", SRC_SECRNN_T1, None, 87.0, "development set (same for both audio features)", "visual"
    ),
    PublishedResult("SE-CRNN, early fusion, gammatone", SRC_SECRNN_T1, None, 89.2, "development set", "early"),
    PublishedResult("SE-CRNN, early fusion, log-mel", SRC_SECRNN_T1, None, 88.5, "development set", "early"),
    PublishedResult("SE-CRNN, late fusion, gammatone", SRC_SECRNN_T1, None, 90.0, "development set", "late"),
    PublishedResult("SE-CRNN, late fusion, log-mel", SRC_SECRNN_T1, None, 88.7, "development set", "late"),
    PublishedResult(
        "SE-CRNN, audio only, gammatone (evaluation set)",
        SRC_SECRNN_T2,
        None,
        66.8,
        "challenge evaluation set",
        "audio",
    ),
    PublishedResult(
        "SE-CRNN, visual only (evaluation set)", SRC_SECRNN_T2, None, 83.2, "challenge evaluation set", "visual"
    ),
    PublishedResult(
        "SE-CRNN, late fusion (evaluation set)", SRC_SECRNN_T2, None, 86.5, "challenge evaluation set", "late"
    ),
    PublishedResult("Dual-stream CNN (OpenL3 + ResNet50)", SRC_DUAL, 0.318, 90.0, "development set", "system"),
    PublishedResult(
        "Joint optimization, audio only, FBank", SRC_JOINT, 0.6968, 76.08, "development set, Table 2", "audio"
    ),
    PublishedResult(
        "Joint optimization, audio only, scalogram", SRC_JOINT, 0.6325, 77.98, "development set, Table 2", "audio"
    ),
    PublishedResult(
        "Joint optimization, video only, ResNet50", SRC_JOINT, 0.3939, 87.03, "development set, Table 2", "visual"
    ),
    PublishedResult(
        "Joint optimization, video only, EfficientNetV2-S",
        SRC_JOINT,
        0.2731,
        90.91,
        "development set, Table 2",
        "visual",
    ),
    PublishedResult(
        "Joint optimization, pipeline, FBank + ResNet50", SRC_JOINT, 0.3808, 88.87, "development set, Table 3", "system"
    ),
    PublishedResult(
        "Joint optimization, joint, FBank + ResNet50", SRC_JOINT, 0.2664, 91.13, "development set, Table 3", "system"
    ),
    PublishedResult(
        "Joint optimization, scalogram + EfficientNetV2-S", SRC_JOINT, 0.1517, 94.59, "development set", "system"
    ),
    PublishedResult("Best challenge system", SRC_CHALLENGE, 0.195, 93.8, "challenge evaluation set", "system"),
)

HEADS: tuple[tuple[str, str], ...] = tuple((h, HEAD_NAMES[h].capitalize()) for h in PER_HEAD_PUBLISHED)
FEATURE_NAMES = {
    "gammatone": "gammatone",
    "logmel": "log-mel",
    "log-mel": "log-mel",
    "log_mel": "log-mel",
    "mel": "log-mel",
}


def format_published(value: float | None, *, min_decimals: int) -> str:
    """Shortest text of a published number, with at least ``min_decimals`` decimals (``–`` if None)."""
    if value is None:
        return "–"
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{max(decimals, min_decimals)}f}"


def _run_value(value: Any, *, scale: float, decimals: int) -> str:
    if value is None:
        return "–"
    value = float(value)
    if math.isnan(value):
        return "–"
    return f"{value * scale:.{decimals}f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def comparison_markdown(
    *, run_heads: Mapping[str, Mapping[str, Any]], feature_kind: str, synthetic: bool, run_label: str
) -> str:
    """Markdown comparison of this run's heads with every published number.

    Parameters
    ----------
    run_heads : mapping of str to dict
        Head name (``audio``, ``visual``, ``early``, ``late``) to
        :func:`avsc.evaluation.metrics.dcase_metrics` output (``logloss``, ``accuracy`` as a
        fraction). Missing heads are shown as not run.
    feature_kind : str
        Audio feature of this run (``gammatone`` or ``logmel``); published rows with the same
        feature are the directly comparable ones.
    synthetic : bool
        The run used the synthetic sample: adds a warning that its numbers are not comparable.
    run_label : str
        Name of this run (experiment / run id) shown in the table.

    Returns
    -------
    str
        The Markdown document.
    """
    feature = FEATURE_NAMES.get(feature_kind.lower(), feature_kind)
    lines = [
        f"# Comparison with published results — {run_label}",
        "",
        "Rows marked **this run** are numbers measured by this project on this run "
        f"(`{run_label}`, audio features: {feature}); their log-loss and accuracy are the challenge's "
        "macro averages over the 10 classes on 1-s segments. Every other row is a **published** number, "
        "copied from the source named in its row (see `shared/REFERENCE.md`), not reproduced here. "
        "Published rows are on the TAU Urban Audio-Visual Scenes 2021 development set (fold1 evaluate, "
        '1-s segments) unless marked *evaluation set*; "–" means the source gives no such number.',
        "",
    ]
    if synthetic:
        lines += [
            "> **Warning — synthetic data.** This run was trained and evaluated on the synthetic sample "
            "generated by `avsc`, not on TAU Urban Audio-Visual Scenes 2021. Its numbers only show that the "
            "pipeline runs end to end; they are **not comparable** with the published numbers below, "
            "which were measured on the real dataset.",
            "",
        ]
    lines += [_row(["system", "source", "log-loss", "accuracy (%)"]), _row(["---", "---", "---:", "---:"])]

    def published_rows(head: str) -> list[str]:
        out = []
        for r in PUBLISHED:
            if r.head != head:
                continue
            name = r.system
            if "evaluation set" in r.note and "evaluation set" not in name:
                name = f"{name} (evaluation set)"
            out.append(
                _row(
                    [
                        name,
                        r.source,
                        format_published(r.logloss, min_decimals=3),
                        format_published(r.accuracy, min_decimals=1),
                    ]
                )
            )
        return out

    for head, label in HEADS:
        lines.append(_row([f"**{label}**", "", "", ""]))
        metrics = run_heads.get(head)
        name = label.lower() if head == "visual" else f"{label.lower()} ({feature})"
        if metrics is None:
            lines.append(_row([name, "**this run** (not run)", "–", "–"]))
        else:
            lines.append(
                _row(
                    [
                        name,
                        f"**this run** ({run_label})",
                        _run_value(metrics.get("logloss"), scale=1.0, decimals=3),
                        _run_value(metrics.get("accuracy"), scale=100.0, decimals=1),
                    ]
                )
            )
        lines += published_rows(head)
    lines.append(_row(["**Audio-visual systems**", "", "", ""]))
    extra_heads = [h for h in run_heads if h not in dict(HEADS)]
    for head in extra_heads:
        metrics = run_heads[head]
        lines.append(
            _row(
                [
                    f"{head} head ({feature})",
                    f"**this run** ({run_label})",
                    _run_value(metrics.get("logloss"), scale=1.0, decimals=3),
                    _run_value(metrics.get("accuracy"), scale=100.0, decimals=1),
                ]
            )
        )
    lines += published_rows("system")
    lines += [
        "",
        "Notes:",
        "",
        f"- SE-CRNN rows with the same audio feature as this run ({feature}) are the directly comparable "
        "ones; SE-CRNN publishes accuracy only, and validated on the evaluate fold (this project selects "
        "models on a location-disjoint 10 % of fold1_train instead).",
        "- SE-CRNN's evaluation-set audio result uses gammatone features.",
        "- The best challenge system and the SE-CRNN Table 2 rows are on the challenge evaluation set, "
        "not the development set.",
        "",
    ]
    return "\n".join(lines)


def write_comparison(path: Path | str, text: str) -> Path:
    """Write the comparison Markdown (atomic)."""
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")
    LOG.info("wrote comparison to %s", path)
    return Path(path)
