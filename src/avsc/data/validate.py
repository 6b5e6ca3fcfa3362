"""Dataset validation with great-expectations (GX Core 1.x).

:func:`validate_dataset` reads the index files of a TAU-layout dataset (``meta.csv`` and
``evaluation_setup/fold1_{train,evaluate,test}.csv``) into one pandas frame, one row per index
line, adds columns computed from the media files (headers, and a full read of every WAV and a full
decode of every MP4), runs a GX expectation suite on that frame and turns every failed expectation
into :class:`Problem` entries that name the offending file and the rule it broke.

The dataset is only read: files are opened read-only, nothing outside a path that resolves inside
the root is opened, and the GX context, Data Docs and ``validation.json`` go under ``report_dir``,
which must not be inside the dataset.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from avsc.data.tau import CLASSES, CLIP_NAME, FOLD_COLUMNS, META_COLUMNS, TEST_COLUMNS
from avsc.errors import DataError, ValidationFailed

log = logging.getLogger(__name__)

#: Index files: (path inside root, required columns, split name, required file).
INDEX_FILES: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    ("meta.csv", META_COLUMNS, "meta", True),
    ("evaluation_setup/fold1_train.csv", FOLD_COLUMNS, "train", True),
    ("evaluation_setup/fold1_evaluate.csv", FOLD_COLUMNS, "evaluate", True),
    ("evaluation_setup/fold1_test.csv", TEST_COLUMNS, "test", False),
)
_STEM = r"[a-z_]+-[a-z]+-\d+-\d+"  # tau.CLIP_NAME without its named groups
AUDIO_NAME_REGEX = rf"^audio/{_STEM}\.wav$"
VIDEO_NAME_REGEX = rf"^video/{_STEM}\.mp4$"
KEY = "row_key"
SUITE_NAME = "tau_urban_audio_visual_scenes_2021"


@dataclass(frozen=True)
class Problem:
    """One broken rule: the offending file (as written in the index, or an index file), the rule."""

    file: str
    rule: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.rule}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_dataset`."""

    root: Path
    valid: bool
    n_clips: int
    problems: list[Problem]
    statistics: dict[str, Any] = field(default_factory=dict)
    docs_path: Path | None = None
    json_path: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "valid": self.valid,
            "n_clips": self.n_clips,
            "n_problems": len(self.problems),
            "problems": [dict(asdict(p), text=str(p)) for p in self.problems],
            "gx_statistics": self.statistics,
            "data_docs": str(self.docs_path) if self.docs_path else None,
        }


# --------------------------------------------------------------------------------------------
# Index frame
# --------------------------------------------------------------------------------------------


def _read_index(root: Path, problems: list[Problem]) -> pd.DataFrame:
    """One row per line of every index file, with the columns every row shares."""
    rows: list[dict[str, Any]] = []
    for rel, required, split, must_exist in INDEX_FILES:
        path = root / rel
        if not path.is_file():
            if must_exist:
                problems.append(Problem(rel, "index file must exist", "missing"))
            continue
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas raises several parser errors
            problems.append(Problem(rel, "index file must be tab-separated text", str(exc).splitlines()[0][:160]))
            continue
        missing = [c for c in required if c not in frame.columns]
        if missing:
            problems.append(Problem(rel, "required columns", f"missing column(s) {', '.join(missing)}; "
                                    f"found {', '.join(map(str, frame.columns)) or 'none'}"))
        for i, record in enumerate(frame.to_dict("records")):
            rows.append({
                KEY: f"{rel}:{i + 2}",
                "source": rel,
                "split": split,
                "filename_audio": record.get("filename_audio"),
                "filename_video": record.get("filename_video"),
                "scene_label": record.get("scene_label") if split != "test" else None,
                "identifier": record.get("identifier") if split == "meta" else None,
            })
    columns = [KEY, "source", "split", "filename_audio", "filename_video", "scene_label", "identifier"]
    return pd.DataFrame(rows, columns=columns)


def _inside_root(root: Path, name: Any) -> bool:
    """``name`` is relative, has no ``..``, and resolves (symlinks included) inside ``root``."""
    if not isinstance(name, str) or not name:
        return False
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or Path(name).is_absolute() or ".." in pure.parts:
        return False
    try:
        resolved = (root / pure).resolve()
        return resolved.is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _name_parts(name: Any) -> tuple[str, str, str] | None:
    """``(scene, identifier, stem)`` of a clip file name, or None."""
    if not isinstance(name, str):
        return None
    stem = PurePosixPath(name).stem
    match = CLIP_NAME.match(stem)
    if not match:
        return None
    return match["scene"], f"{match['city']}-{match['location']}", stem


# --------------------------------------------------------------------------------------------
# Media probing (read-only)
# --------------------------------------------------------------------------------------------


def _wav_declared(path: Path) -> tuple[int, int] | None:
    """``(declared data bytes, bytes actually present)`` from a WAV's RIFF chunks, or None."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            cid, csize = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):  # streamed / unknown length
                    return None
                return csize, size - (pos + 8)
            pos += 8 + csize + (csize & 1)
    return None


def probe_audio_row(path: Path) -> dict[str, Any]:
    """Header facts and a full read of one audio file."""
    out: dict[str, Any] = {"audio_sample_rate": None, "audio_channels": None, "audio_duration": None,
                           "audio_readable_to_end": False, "audio_error": None}
    try:
        info = sf.info(str(path))
    except Exception as exc:
        out["audio_error"] = f"not a readable audio file: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__}"
        return out
    out["audio_sample_rate"] = int(info.samplerate)
    out["audio_channels"] = int(info.channels)
    out["audio_duration"] = info.frames / info.samplerate if info.samplerate else 0.0
    try:
        declared = _wav_declared(path) if info.format == "WAV" else None
        if declared is not None and declared[0] > declared[1]:
            out["audio_error"] = (f"header declares {declared[0]} data bytes, only {declared[1]} present")
            return out
        frames = 0
        with sf.SoundFile(str(path), mode="r") as fh:
            for block in fh.blocks(blocksize=1 << 18, dtype="float32", always_2d=True):
                frames += len(block)
        if frames != info.frames:
            out["audio_error"] = f"header declares {info.frames} frames, {frames} readable"
            return out
        if declared is not None:
            block_align = info.channels * {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
                                           "DOUBLE": 8, "PCM_U8": 1}.get(info.subtype, 0)
            if block_align and declared[0] != info.frames * block_align:
                out["audio_error"] = (f"header declares {declared[0]} data bytes, "
                                      f"{info.frames * block_align} read")
                return out
    except Exception as exc:
        out["audio_error"] = f"read failed: {str(exc).strip()[:120] or type(exc).__name__}"
        return out
    out["audio_readable_to_end"] = True
    return out


def probe_video_row(path: Path) -> dict[str, Any]:
    """Decode every frame of the first video stream; duration from the last frame's end."""
    import av

    out: dict[str, Any] = {"video_decodable": False, "video_duration": None, "video_fps": None,
                           "video_frames": None, "video_error": None}
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                out["video_error"] = "no video stream"
                return out
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 0) or None
            header = None
            if stream.duration is not None and stream.time_base is not None:
                header = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                header = container.duration / 1_000_000
            n = 0
            first = last = None
            for frame in container.decode(stream):
                n += 1
                if frame.pts is not None:
                    t = float(frame.pts * stream.time_base)
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
    except Exception as exc:
        text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        out["video_error"] = f"cannot be decoded: {text}"
        return out
    if n == 0:
        out["video_error"] = "no decodable frames"
        return out
    out["video_frames"] = n
    out["video_fps"] = fps
    if last is not None and fps:
        out["video_duration"] = last - (first or 0.0) + 1.0 / fps
    else:
        out["video_duration"] = header
    out["video_decodable"] = True
    return out


def _probe_all(root: Path, audio: list[str], video: list[str], workers: int) -> tuple[dict, dict]:
    from tqdm.auto import tqdm

    jobs = [("a", n) for n in audio] + [("v", n) for n in video]
    results_a: dict[str, dict] = {}
    results_v: dict[str, dict] = {}

    def run(job):
        kind, name = job
        path = root / PurePosixPath(name)
        return kind, name, (probe_audio_row(path) if kind == "a" else probe_video_row(path))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for kind, name, res in tqdm(pool.map(run, jobs), total=len(jobs), desc="probing media",
                                    unit="file", disable=None, leave=False):
            (results_a if kind == "a" else results_v)[name] = res
    return results_a, results_v


# --------------------------------------------------------------------------------------------
# Derived columns
# --------------------------------------------------------------------------------------------


def build_index(root: Path, *, workers: int = 2) -> tuple[pd.DataFrame, list[Problem]]:
    """The frame the GX suite runs on, and the problems found while reading the index files."""
    problems: list[Problem] = []
    df = _read_index(root, problems)
    n = len(df)
    for kind in ("audio", "video"):
        names = df[f"filename_{kind}"]
        inside = [_inside_root(root, v) for v in names]
        df[f"{kind}_path_inside_root"] = pd.Series(
            [ok if isinstance(v, str) and v else None for ok, v in zip(inside, names)], dtype=object)
        exists = [((root / PurePosixPath(v)).is_file() if ok else None) for ok, v in zip(inside, names)]
        df[f"{kind}_exists"] = pd.Series(exists, dtype=object)

    # Names: same stem for audio and video; scene in the name equals the label; identifier.
    parts = [_name_parts(v) for v in df["filename_audio"]]
    vparts = [_name_parts(v) for v in df["filename_video"]]
    df["video_matches_audio"] = pd.Series(
        [(p[2] == q[2]) if p and q else None for p, q in zip(parts, vparts)], dtype=object)
    df["label_matches_name"] = pd.Series(
        [(p[0] == lab) if p and isinstance(lab, str) and lab in CLASSES else None
         for p, lab in zip(parts, df["scene_label"])], dtype=object)
    df["identifier_matches_name"] = pd.Series(
        [(p[1] == ident) if p and isinstance(ident, str) else None
         for p, ident in zip(parts, df["identifier"])], dtype=object)
    df["location"] = [p[1] if p else None for p in parts]

    # Index consistency: fold rows listed in meta; train/evaluate disjoint by clip and location.
    meta_ok = not any(p.file == "meta.csv" for p in problems)
    meta_files = set(df.loc[df["split"] == "meta", "filename_audio"].dropna())
    df["in_meta"] = pd.Series([(f in meta_files) if s != "meta" and meta_ok and isinstance(f, str) else None
                               for s, f in zip(df["split"], df["filename_audio"])], dtype=object)
    clips = {s: set(df.loc[df["split"] == s, "filename_audio"].dropna()) for s in ("train", "evaluate")}
    locs = {s: set(df.loc[df["split"] == s, "location"].dropna()) for s in ("train", "evaluate")}
    other = {"train": "evaluate", "evaluate": "train"}
    df["in_both_splits"] = pd.Series([(f in clips[other[s]]) if s in other and isinstance(f, str) else None
                                      for s, f in zip(df["split"], df["filename_audio"])], dtype=object)
    df["shares_location_with_other_split"] = pd.Series(
        [(loc in locs[other[s]]) if s in other and loc else None for s, loc in zip(df["split"], df["location"])],
        dtype=object)

    # Media, each distinct file probed once.
    audio = sorted({v for v, e in zip(df["filename_audio"], df["audio_exists"]) if e})
    video = sorted({v for v, e in zip(df["filename_video"], df["video_exists"]) if e})
    res_a, res_v = _probe_all(root, audio, video, workers)
    a_keys = ["audio_sample_rate", "audio_channels", "audio_duration", "audio_readable_to_end", "audio_error"]
    v_keys = ["video_decodable", "video_duration", "video_fps", "video_frames", "video_error"]
    for keys, res, col in ((a_keys, res_a, "filename_audio"), (v_keys, res_v, "filename_video")):
        for k in keys:
            df[k] = pd.Series([res[v][k] if v in res else None for v in df[col]], dtype=object)
    diff = []
    for a, v in zip(df["audio_duration"], df["video_duration"]):
        diff.append(abs(float(v) - float(a)) if a is not None and v is not None else None)
    df["duration_diff"] = pd.Series(diff, dtype=object)
    for k in ("audio_sample_rate", "audio_channels"):
        df[k] = pd.Series([int(x) if x is not None else None for x in df[k]], dtype=object)
    assert len(df) == n
    return df, problems


# --------------------------------------------------------------------------------------------
# GX suite
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """An expectation and how to report its failures."""

    expectation: Any
    rule: str
    file_column: str = "filename_audio"
    detail: str = "found {value!r}"


def _rules(*, duration_s: float, tolerance_s: float, sample_rate: int, channels: int,
           video_tolerance_s: float) -> list[Rule]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    true = [True]
    false = [False]
    rules = [
        Rule(E.ExpectColumnValuesToBeInSet(column="scene_label", value_set=list(CLASSES)),
             "scene label must be one of the 10 classes"),
        Rule(E.ExpectColumnValuesToMatchRegex(column="filename_audio", regex=AUDIO_NAME_REGEX),
             "audio file name must be audio/<scene>-<city>-<location>-<segment>.wav", detail="in {source}"),
        Rule(E.ExpectColumnValuesToMatchRegex(column="filename_video", regex=VIDEO_NAME_REGEX),
             "video file name must be video/<scene>-<city>-<location>-<segment>.mp4", "filename_video",
             "in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="video_matches_audio", value_set=true),
             "video file name must have the same stem as the audio file", "filename_video",
             "audio is {filename_audio}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="label_matches_name", value_set=true),
             "scene in the file name must equal scene_label", detail="scene_label {scene_label!r} in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="identifier_matches_name", value_set=true),
             "identifier must be <city>-<location> of the file name", detail="identifier {identifier!r}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="audio_path_inside_root", value_set=true),
             "path must be relative, without '..', and resolve inside the dataset root", detail="in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="video_path_inside_root", value_set=true),
             "path must be relative, without '..', and resolve inside the dataset root", "filename_video",
             "in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="audio_exists", value_set=true),
             "referenced file must exist", detail="listed in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="video_exists", value_set=true),
             "referenced file must exist", "filename_video", "listed in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="audio_sample_rate", value_set=[sample_rate]),
             f"audio sample rate must be {sample_rate} Hz", detail="found {value}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="audio_channels", value_set=[channels]),
             f"audio must have {channels} channels", detail="found {value}"),
        Rule(E.ExpectColumnValuesToBeBetween(column="audio_duration", min_value=duration_s - tolerance_s,
                                              max_value=duration_s + tolerance_s),
             f"audio duration must be {duration_s:g} s ± {tolerance_s:g} s", detail="found {value:.3f} s"),
        Rule(E.ExpectColumnValuesToBeInSet(column="audio_readable_to_end", value_set=true),
             "audio must be readable to the end", detail="{audio_error}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="video_decodable", value_set=true),
             "video must be decodable to the end", "filename_video", "{video_error}"),
        Rule(E.ExpectColumnValuesToBeBetween(column="duration_diff", min_value=0.0, max_value=video_tolerance_s),
             f"video duration must match the audio duration within {video_tolerance_s:.3g} s", "filename_video",
             "video {video_duration:.3f} s, audio {audio_duration:.3f} s"),
        Rule(E.ExpectColumnValuesToBeInSet(column="in_meta", value_set=true),
             "clip must be listed in meta.csv", detail="listed in {source}"),
        Rule(E.ExpectColumnValuesToBeInSet(column="in_both_splits", value_set=false),
             "clip must not be in both fold1_train and fold1_evaluate"),
        Rule(E.ExpectColumnValuesToBeInSet(column="shares_location_with_other_split", value_set=false),
             "train and evaluate must not share a recording location",
             detail="location {location} is in both fold1_train and fold1_evaluate"),
    ]
    for rel, _, _, _ in INDEX_FILES:
        rules.append(Rule(E.ExpectColumnValuesToBeUnique(column="filename_audio", row_condition=Column("source") == rel),
                          f"clip must be listed only once in {rel}", detail="duplicate row {row}"))
    return rules


def _site_config(folder: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def run_suite(df: pd.DataFrame, rules: list[Rule], *, docs_dir: Path) -> tuple[Any, Path | None]:
    """Run the suite through a GX checkpoint that also updates a local Data Docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={"avsc_site": _site_config(docs_dir)},
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("avsc").add_dataframe_asset("tau_index")
    batch = asset.add_batch_definition_whole_dataframe("all_rows")
    # The suite is built in one go: adding expectations one by one re-serialises it every time.
    # Derived columns exist by construction; the index columns are checked.
    columns = ["source", "split", "filename_audio", "filename_video", "scene_label", "identifier"]
    expectations = [gx.expectations.ExpectColumnToExist(column=c) for c in columns]
    for i, rule in enumerate(rules):
        rule.expectation.meta = {"avsc_rule": i, "rule": rule.rule}
        expectations.append(rule.expectation)
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="tau_dataset", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="avsc_validate", validation_definitions=[definition], actions=[],
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [KEY, "filename_audio"]},
    ))
    result = checkpoint.run(batch_parameters={"dataframe": df})
    (validation,) = result.run_results.values()
    index = docs_dir / "index.html"
    try:
        context.build_data_docs(site_names=["avsc_site"])
    except Exception as exc:  # rendering problems must not lose the validation result
        log.warning("GX Data Docs could not be built (%s)", str(exc).splitlines()[0] if str(exc) else exc)
    return validation, index if index.is_file() else None


def _fmt(template: str, row: dict[str, Any], value: Any) -> str:
    try:
        return template.format(value=value, row=row.get(KEY), **row)
    except (KeyError, ValueError, TypeError, IndexError):
        return f"found {value!r}"


def problems_from_results(validation: Any, df: pd.DataFrame, rules: list[Rule]) -> list[Problem]:
    """One :class:`Problem` per failing row of every failed expectation."""
    rows = {r[KEY]: r for r in df.to_dict("records")}
    problems: list[Problem] = []
    for res in validation.results:
        if res.success:
            continue
        config = res.expectation_config
        meta = config.meta or {}
        if "avsc_rule" not in meta:
            problems.append(Problem("<index>", f"{config.type} failed", json.dumps(config.kwargs, default=str)))
            continue
        rule = rules[int(meta["avsc_rule"])]
        exc = res.exception_info or {}
        if isinstance(exc, dict) and exc.get("raised_exception"):
            problems.append(Problem("<index>", rule.rule, f"expectation raised {exc.get('exception_message')}"))
            continue
        column = config.kwargs.get("column")
        for entry in (res.result or {}).get("unexpected_index_list") or []:
            row = rows.get(entry.get(KEY), {})
            file = row.get(rule.file_column) or row.get("filename_audio") or row.get("source") or "<index>"
            problems.append(Problem(str(file), rule.rule, _fmt(rule.detail, row, row.get(column))))
    return problems


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def _fallback_html(report: ValidationReport) -> str:
    items = "\n".join(f"<li>{escape(str(p))}</li>" for p in report.problems) or "<li>none</li>"
    status = "valid" if report.valid else "INVALID"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>avsc validation</title></head><body>"
            f"<h1>Dataset validation: {status}</h1><p>{escape(str(report.root))}: {report.n_clips} clip(s), "
            f"{len(report.problems)} problem(s)</p><ul>{items}</ul></body></html>\n")


def _write_reports(report: ValidationReport, report_dir: Path) -> None:
    from avsc.data.media import atomic_write_text

    if report.docs_path is None:
        report.docs_path = report_dir / "index.html"
        atomic_write_text(report.docs_path, _fallback_html(report))
    report.json_path = report_dir / "validation.json"
    atomic_write_text(report.json_path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def validate_dataset(
    root: Path | str,
    *,
    report_dir: Path | str,
    duration_s: float = 10.0,
    tolerance_s: float = 0.05,
    sample_rate: int = 48000,
    channels: int = 2,
    workers: int = 2,
) -> ValidationReport:
    """Validate a TAU-layout dataset; never modifies it.

    Parameters
    ----------
    root : dataset folder holding ``meta.csv``, ``evaluation_setup/``, ``audio/``, ``video/``.
    report_dir : where Data Docs (``data_docs/index.html``) and ``validation.json`` are written;
        must not be inside ``root``.
    duration_s, tolerance_s : expected clip length and the allowed deviation of the audio.
    sample_rate, channels : expected audio format.

    Returns
    -------
    ValidationReport
        ``valid`` is True when no problem was found; ``problems`` names each offending file.
    """
    start = time.monotonic()
    root = Path(root)
    report_dir = Path(report_dir)
    if root.exists() and report_dir.resolve().is_relative_to(root.resolve()):
        raise DataError(f"{report_dir}: the report folder must be outside the dataset {root}")
    report_dir.mkdir(parents=True, exist_ok=True)

    problems: list[Problem] = []
    statistics: dict[str, Any] = {}
    docs_path = None
    n_clips = 0
    if not root.is_dir():
        problems.append(Problem(str(root), "dataset folder must exist", "not found"))
    else:
        df, problems = build_index(root, workers=workers)
        n_clips = int(df.loc[df["split"] == "meta", "filename_audio"].nunique()) if len(df) else 0
        if len(df):
            fps = [f for f in df["video_fps"] if f]
            video_tol = max(tolerance_s, 1.0 / float(np.median(fps))) if fps else tolerance_s
            rules = _rules(duration_s=duration_s, tolerance_s=tolerance_s, sample_rate=sample_rate,
                           channels=channels, video_tolerance_s=video_tol + 1e-6)
            try:
                validation, docs_path = run_suite(df, rules, docs_dir=report_dir / "data_docs")
            except Exception as exc:  # GX internals; keep the report
                log.warning("great-expectations run failed (%s); writing a plain report", exc)
                raise DataError(f"great-expectations could not run the suite: {exc}") from None
            statistics = _plain(dict(validation.statistics))
            statistics["success"] = bool(validation.success)
            problems.extend(problems_from_results(validation, df, rules))
            if docs_path is None:
                log.warning("GX Data Docs were not built; writing a plain HTML report instead")
    unique: dict[str, Problem] = {}
    for p in problems:
        unique.setdefault(str(p), p)
    problems = sorted(unique.values(), key=lambda p: (p.file, p.rule, p.detail))
    report = ValidationReport(root=root, valid=not problems, n_clips=n_clips, problems=problems,
                              statistics=statistics, docs_path=docs_path, seconds=time.monotonic() - start)
    _write_reports(report, report_dir)
    log.info("validation report: %s; data docs: %s", report.json_path, report.docs_path)
    return report


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def declared_duration(root: Path) -> float | None:
    """Clip length declared by a synthetic dataset's ``SYNTHETIC`` marker, if any."""
    marker = root / "SYNTHETIC"
    if not marker.is_file():
        return None
    try:
        text = marker.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    data: Any = None
    brace = text.find("{")
    if brace >= 0:  # a free-text line, then the generator's settings as JSON
        try:
            data = json.loads(text[brace:])
        except ValueError:
            data = None
    if isinstance(data, dict):
        for key in ("duration_s", "duration"):
            if key in data:
                try:
                    return float(data[key])
                except (TypeError, ValueError):
                    return None
        for value in data.values():
            if isinstance(value, dict) and "duration_s" in value:
                try:
                    return float(value["duration_s"])
                except (TypeError, ValueError):
                    return None
    return None


def validate_from_params(params, root_dir: Path) -> ValidationReport:
    """Validate ``params.data.root`` with the ``validate`` section (paths relative to ``root_dir``)."""
    cfg = params.validate_
    data_root = Path(params.data.root)
    data_root = data_root if data_root.is_absolute() else Path(root_dir) / data_root
    report_dir = Path(cfg.report_dir)
    report_dir = report_dir if report_dir.is_absolute() else Path(root_dir) / report_dir
    return _validate_with(data_root, report_dir, cfg)


def _validate_with(root: Path, report_dir: Path, cfg) -> ValidationReport:
    duration = cfg.duration_s
    declared = declared_duration(root) if root.is_dir() else None
    if declared is not None and not math.isclose(declared, duration):
        log.info("%s: synthetic dataset declares %g-s clips; checking that length instead of %g s",
                 root, declared, duration)
        duration = declared
    return validate_dataset(root, report_dir=report_dir, duration_s=duration,
                            tolerance_s=cfg.duration_tolerance_s, sample_rate=cfg.sample_rate,
                            channels=cfg.channels)


def _raise_if_invalid(report: ValidationReport) -> None:
    if not report.valid:
        raise ValidationFailed(f"{report.root}: {len(report.problems)} problem(s) found "
                               f"(report: {report.json_path})", problems=[str(p) for p in report.problems])


def main_for_stage(params, root_dir: Path | None = None) -> ValidationReport:
    """DVC stage entry: validate and raise :class:`ValidationFailed` when the dataset is invalid."""
    from avsc.config.settings import find_root

    report = validate_from_params(params, Path(root_dir) if root_dir else find_root())
    _raise_if_invalid(report)
    log.info("%s: %d clips valid", report.root, report.n_clips)
    return report


def cli_validate(args: argparse.Namespace) -> int:
    """``avsc validate --data ROOT [--report-dir DIR]``; rules from params.yaml's ``validate``."""
    from avsc.config.settings import ValidateSection, find_root, load_params

    params_file = getattr(args, "params", None)
    if params_file is not None or (find_root() / "params.yaml").is_file():
        cfg = load_params(params_file).validate_
    else:
        cfg = ValidateSection()
    report_dir = Path(args.report_dir) if args.report_dir else Path("reports/validation") / (
        Path(args.data).resolve().name or "dataset")
    report = _validate_with(Path(args.data), report_dir, cfg)
    _raise_if_invalid(report)
    log.info("%s: valid (%d clips, %d GX expectations passed) in %.1f s; Data Docs %s",
             report.root, report.n_clips, report.statistics.get("successful_expectations", 0),
             report.seconds, report.docs_path)
    return 0
