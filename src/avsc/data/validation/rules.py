"""The rules of a valid TAU-layout dataset, as great-expectations expectations on the index frame.

Each :class:`Rule` pairs an expectation with the text a failure is reported under and the column
naming the offending file; the texts are what ``avsc validate`` prints and tests match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avsc.data.paths import OUTSIDE_ROOT
from avsc.data.tau import CLASSES
from avsc.data.validation.index import AUDIO_NAME_REGEX, INDEX_FILES, VIDEO_NAME_REGEX

SUITE_NAME = "tau_urban_audio_visual_scenes_2021"
EXISTS = "referenced file must exist and be a regular file"


@dataclass(frozen=True)
class Rule:
    """An expectation and how to report its failures."""

    expectation: Any
    rule: str
    file_column: str = "filename_audio"
    detail: str = "found {value!r}"


def suite_rules(
    *, duration_s: float, tolerance_s: float, sample_rate: int, channels: int, video_tolerance_s: float
) -> list[Rule]:
    """Every rule, with the expected clip length, its tolerances and the audio format."""
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    true = [True]
    false = [False]
    rules = [
        Rule(
            E.ExpectColumnValuesToBeInSet(column="scene_label", value_set=list(CLASSES)),
            "scene label must be one of the 10 classes",
        ),
        Rule(
            E.ExpectColumnValuesToMatchRegex(column="filename_audio", regex=AUDIO_NAME_REGEX),
            "audio file name must be audio/<scene>-<city>-<location>-<segment>.wav",
            detail="in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToMatchRegex(column="filename_video", regex=VIDEO_NAME_REGEX),
            "video file name must be video/<scene>-<city>-<location>-<segment>.mp4",
            "filename_video",
            "in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="video_matches_audio", value_set=true),
            "video file name must have the same stem as the audio file",
            "filename_video",
            "audio is {filename_audio}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="label_matches_name", value_set=true),
            "scene in the file name must equal scene_label",
            detail="scene_label {scene_label!r} in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="identifier_matches_name", value_set=true),
            "identifier must be <city>-<location> of the file name",
            detail="identifier {identifier!r}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="audio_path_inside_root", value_set=true),
            OUTSIDE_ROOT,
            detail="in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="video_path_inside_root", value_set=true),
            OUTSIDE_ROOT,
            "filename_video",
            "in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="audio_exists", value_set=true),
            EXISTS,
            detail="listed in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="video_exists", value_set=true),
            EXISTS,
            "filename_video",
            "listed in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="audio_sample_rate", value_set=[sample_rate]),
            f"audio sample rate must be {sample_rate} Hz",
            detail="found {value}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="audio_channels", value_set=[channels]),
            f"audio must have {channels} channels",
            detail="found {value}",
        ),
        Rule(
            E.ExpectColumnValuesToBeBetween(
                column="audio_duration", min_value=duration_s - tolerance_s, max_value=duration_s + tolerance_s
            ),
            f"audio duration must be {duration_s:g} s ± {tolerance_s:g} s",
            detail="found {value:.3f} s",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="audio_readable_to_end", value_set=true),
            "audio must be readable to the end",
            detail="{audio_error}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="video_decodable", value_set=true),
            "video must be decodable to the end",
            "filename_video",
            "{video_error}",
        ),
        Rule(
            E.ExpectColumnValuesToBeBetween(column="duration_diff", min_value=0.0, max_value=video_tolerance_s),
            f"video duration must match the audio duration within {video_tolerance_s:.3g} s",
            "filename_video",
            "video {video_duration:.3f} s, audio {audio_duration:.3f} s",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="in_meta", value_set=true),
            "clip must be listed in meta.csv",
            detail="listed in {source}",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="in_both_splits", value_set=false),
            "clip must not be in both fold1_train and fold1_evaluate",
        ),
        Rule(
            E.ExpectColumnValuesToBeInSet(column="shares_location_with_other_split", value_set=false),
            "train and evaluate must not share a recording location",
            detail="location {location} is in both fold1_train and fold1_evaluate",
        ),
    ]
    for rel, _, _, _ in INDEX_FILES:
        rules.append(
            Rule(
                E.ExpectColumnValuesToBeUnique(column="filename_audio", row_condition=Column("source") == rel),
                f"clip must be listed only once in {rel}",
                detail="duplicate row {row}",
            )
        )
    return rules
