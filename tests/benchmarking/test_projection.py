"""The scale command's projection arithmetic on a fixed cost table."""

from __future__ import annotations

import pytest

from avsc.benchmarking.projection import DEV_CLIPS, StageCost, project, table, total

COSTS = [
    StageCost("features_audio", seconds_per_clip=0.05, bytes_per_clip=384_000, peak_rss_bytes=800_000_000),
    StageCost("train_audio", seconds_per_clip=0.002, peak_rss_bytes=2_500_000_000, passes=200, fraction=0.63),
]


def test_projection_of_a_fixed_cost_table():
    audio, train = project(COSTS)
    assert audio.clips == DEV_CLIPS == 12_292
    assert audio.hours == pytest.approx(0.05 * 12_292 / 3600)  # 0.171 h
    assert audio.disk_gb == pytest.approx(384_000 * 12_292 / 1e9)  # 4.72 GB
    assert audio.peak_rss_gb == pytest.approx(0.8)
    assert train.clips == round(12_292 * 0.63) == 7_744
    assert train.hours == pytest.approx(0.002 * 7_744 * 200 / 3600)  # 0.860 h
    assert train.disk_gb == 0
    whole = total([audio, train])
    assert whole.hours == pytest.approx(audio.hours + train.hours)
    assert whole.peak_rss_gb == pytest.approx(2.5)


def test_projection_scales_with_clips_and_prints_a_row_per_stage():
    (half,) = project(COSTS[:1], n_clips=100)
    assert half.hours == pytest.approx(5 / 3600) and half.disk_gb == pytest.approx(0.0384)
    text = table(project(COSTS), title="default profile")
    assert "| features_audio | 12292 | 0.17 | 4.7 | 0.80 |" in text
    assert "| train_audio | 7744 | 0.86 | 0.0 | 2.50 |" in text
    assert text.splitlines()[-1].startswith("| total |")
