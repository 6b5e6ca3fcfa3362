"""The classifier heads every system reports, and what reports call them (one place for both)."""

from __future__ import annotations

#: Head key -> its name in reports (predictions, metrics, plots). Metric names use the keys.
HEAD_NAMES: dict[str, str] = {
    "audio": "audio only",
    "visual": "visual only",
    "early": "early fusion",
    "late": "late fusion",
    "fused": "audio-visual",
}

#: The heads whose published numbers the SE-CRNN paper and the DCASE baseline report per head.
PER_HEAD_PUBLISHED: tuple[str, ...] = ("audio", "visual", "early", "late")
