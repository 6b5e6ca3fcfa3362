"""Projection arithmetic of ``avsc bench scale``: measured per-clip costs -> full development-set figures.

Pure functions on a cost table, so the arithmetic is tested on fixed numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Clips of the TAU Urban Audio-Visual Scenes 2021 development set.
DEV_CLIPS = 12_292


@dataclass(frozen=True)
class StageCost:
    """One stage's measured cost on this machine.

    ``seconds_per_clip`` is the wall time of one pass over one clip; the stage makes ``passes``
    passes (epochs for training, 1 for features) over ``fraction`` of the clips (the train split
    for training, all clips for features). ``bytes_per_clip`` is what it writes to disk per clip
    of ``fraction``; ``peak_rss_bytes`` its measured peak resident memory (independent of clips).
    """

    stage: str
    seconds_per_clip: float
    bytes_per_clip: int = 0
    peak_rss_bytes: int = 0
    passes: float = 1.0
    fraction: float = 1.0


@dataclass(frozen=True)
class StageProjection:
    """One stage's projected cost for ``n_clips`` clips."""

    stage: str
    clips: int
    hours: float
    disk_gb: float
    peak_rss_gb: float


def project(costs: list[StageCost], *, n_clips: int = DEV_CLIPS) -> list[StageProjection]:
    """Projected wall time, disk and peak memory of every stage for ``n_clips`` clips."""
    out = []
    for c in costs:
        clips = round(n_clips * c.fraction)
        out.append(
            StageProjection(
                stage=c.stage,
                clips=clips,
                hours=c.seconds_per_clip * clips * c.passes / 3600.0,
                disk_gb=c.bytes_per_clip * clips / 1e9,
                peak_rss_gb=c.peak_rss_bytes / 1e9,
            )
        )
    return out


def total(rows: list[StageProjection]) -> StageProjection:
    """The whole pipeline: summed time and disk, the largest peak memory."""
    return StageProjection(
        stage="total",
        clips=max((r.clips for r in rows), default=0),
        hours=sum(r.hours for r in rows),
        disk_gb=sum(r.disk_gb for r in rows),
        peak_rss_gb=max((r.peak_rss_gb for r in rows), default=0.0),
    )


def table(rows: list[StageProjection], *, title: str) -> str:
    """The projection as a Markdown table (one row per stage, then the total)."""
    lines = [
        title,
        "",
        "| stage | clips | time (h) | disk (GB) | peak RSS (GB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in [*rows, total(rows)]:
        lines.append(f"| {r.stage} | {r.clips} | {r.hours:.2f} | {r.disk_gb:.1f} | {r.peak_rss_gb:.2f} |")
    return "\n".join(lines)
