"""The frame the GX suite runs on: the index rows plus columns computed from names and media.

Each derived column holds True/False for the rows a rule applies to and None for the others
(GX expectations skip missing values), so every failure points at one index row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.data.paths import OUTSIDE_ROOT, media_problem
from avsc.data.tau import CLASSES
from avsc.data.validation.index import name_parts, read_index
from avsc.data.validation.probe import probe_all
from avsc.data.validation.report import Problem


def build_index(
    root: Path, *, workers: int = 2, limits: MediaLimits = DEFAULT_LIMITS
) -> tuple[pd.DataFrame, list[Problem]]:
    """The frame the GX suite runs on, and the problems found while reading the index files."""
    problems: list[Problem] = []
    df = read_index(root, problems)
    n = len(df)
    for kind in ("audio", "video"):
        names = df[f"filename_{kind}"]
        named = [isinstance(v, str) and bool(v) for v in names]
        checks = {v: media_problem(root, v) for v, ok in zip(names, named, strict=True) if ok}
        inside = [ok and checks[v] != OUTSIDE_ROOT for v, ok in zip(names, named, strict=True)]
        df[f"{kind}_path_inside_root"] = pd.Series(
            [i if ok else None for i, ok in zip(inside, named, strict=True)], dtype=object
        )
        # A regular file inside the root; nothing else is ever opened (FIFOs and devices never end).
        exists = [(checks[v] is None) if i else None for v, i in zip(names, inside, strict=True)]
        df[f"{kind}_exists"] = pd.Series(exists, dtype=object)

    # Names: same stem for audio and video; scene in the name equals the label; identifier.
    parts = [name_parts(v) for v in df["filename_audio"]]
    vparts = [name_parts(v) for v in df["filename_video"]]
    df["video_matches_audio"] = pd.Series(
        [(p[2] == q[2]) if p and q else None for p, q in zip(parts, vparts, strict=False)], dtype=object
    )
    df["label_matches_name"] = pd.Series(
        [
            (p[0] == lab) if p and isinstance(lab, str) and lab in CLASSES else None
            for p, lab in zip(parts, df["scene_label"], strict=False)
        ],
        dtype=object,
    )
    df["identifier_matches_name"] = pd.Series(
        [
            (p[1] == ident) if p and isinstance(ident, str) else None
            for p, ident in zip(parts, df["identifier"], strict=False)
        ],
        dtype=object,
    )
    df["location"] = [p[1] if p else None for p in parts]

    # Index consistency: fold rows listed in meta; train/evaluate disjoint by clip and location.
    meta_ok = not any(p.file == "meta.csv" for p in problems)
    meta_files = set(df.loc[df["split"] == "meta", "filename_audio"].dropna())
    df["in_meta"] = pd.Series(
        [
            (f in meta_files) if s != "meta" and meta_ok and isinstance(f, str) else None
            for s, f in zip(df["split"], df["filename_audio"], strict=False)
        ],
        dtype=object,
    )
    clips = {s: set(df.loc[df["split"] == s, "filename_audio"].dropna()) for s in ("train", "evaluate")}
    locs = {s: set(df.loc[df["split"] == s, "location"].dropna()) for s in ("train", "evaluate")}
    other = {"train": "evaluate", "evaluate": "train"}
    df["in_both_splits"] = pd.Series(
        [
            (f in clips[other[s]]) if s in other and isinstance(f, str) else None
            for s, f in zip(df["split"], df["filename_audio"], strict=False)
        ],
        dtype=object,
    )
    df["shares_location_with_other_split"] = pd.Series(
        [
            (loc in locs[other[s]]) if s in other and loc else None
            for s, loc in zip(df["split"], df["location"], strict=False)
        ],
        dtype=object,
    )

    # Media, each distinct file probed once.
    audio = sorted({v for v, e in zip(df["filename_audio"], df["audio_exists"], strict=False) if e})
    video = sorted({v for v, e in zip(df["filename_video"], df["video_exists"], strict=False) if e})
    res_a, res_v = probe_all(root, audio, video, workers=workers, limits=limits)
    a_keys = ["audio_sample_rate", "audio_channels", "audio_duration", "audio_readable_to_end", "audio_error"]
    v_keys = ["video_decodable", "video_duration", "video_fps", "video_frames", "video_error"]
    for keys, res, col in ((a_keys, res_a, "filename_audio"), (v_keys, res_v, "filename_video")):
        for k in keys:
            df[k] = pd.Series([res[v][k] if v in res else None for v in df[col]], dtype=object)
    diff = []
    for a, v in zip(df["audio_duration"], df["video_duration"], strict=False):
        diff.append(abs(float(v) - float(a)) if a is not None and v is not None else None)
    df["duration_diff"] = pd.Series(diff, dtype=object)
    for k in ("audio_sample_rate", "audio_channels"):
        df[k] = pd.Series([int(x) if x is not None else None for x in df[k]], dtype=object)
    assert len(df) == n
    return df, problems
