"""The rules of the DCASE 2021 Task 1 submission validator for task 1B, re-stated for the tests.

Source: toni-heittola/dcase2021_task1_submission_validator (main.py: the task 1B parameters;
validators.py: the checks). Written here independently; only the expected file count is a
parameter (72,000 in the challenge, the size of the synthetic set in the tests). Each function
returns a list of problems (empty when the files pass).
"""

from __future__ import annotations

import csv
import io
import posixpath
import zipfile

import yaml

FIELDS = [
    "filename",
    "scene_label",
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
]
SCENES = set(FIELDS[2:])
INDEX_MAX = 71999
SUBMISSION_FIELDS = ["label", "name", "abbreviation", "authors"]
AUTHOR_FIELDS = ["lastname", "firstname", "email", "affiliation"]
SYSTEM_FIELDS = ["description", "complexity", "external_datasets", "source_code"]
DESCRIPTION_FIELDS = [
    "input_channels",
    "input_sampling_rate",
    "acoustic_features",
    "audio_embeddings",
    "visual_embeddings",
    "data_augmentation",
    "machine_learning_method",
    "ensemble_method_subsystem_count",
    "modality_combination",
    "decision_making",
    "external_data_usage",
]
COMPLEXITY_FIELDS = ["total_parameters", "total_parameters_audio", "total_parameters_visual"]
DATASET_FIELDS = ["name", "url", "total_audio_length"]
DEV_FIELDS = ["overall", "class_wise"]
METRIC_FIELDS = ["logloss", "accuracy"]


def _missing(block, fields) -> list[str]:
    return [f for f in fields if not isinstance(block, dict) or f not in block]


def _is_float(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def check_output(text: str, *, expected_count: int) -> list[str]:
    """The system output CSV: header, one unique ``<n>.wav`` per row in range, legal labels, floats."""
    problems = []
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    header, body = rows[0], rows[1:]
    if header != FIELDS:  # the validator needs the names; the issue asks for this exact order too
        problems.append(f"header {header}")
    seen = set()
    for n, row in enumerate(body, start=1):
        name = posixpath.basename(row[0])
        if name in seen:
            problems.append(f"row {n}: duplicate {name}")
        seen.add(name)
        stem, ext = posixpath.splitext(name)
        if ext != ".wav":
            problems.append(f"row {n}: extension {ext}")
        if not stem.isdigit() or not 0 <= int(stem) <= INDEX_MAX:
            problems.append(f"row {n}: index {stem}")
        if len(row) != len(FIELDS):
            problems.append(f"row {n}: {len(row)} fields")
        if row[1] not in SCENES:
            problems.append(f"row {n}: label {row[1]}")
        if not all(_is_float(v) for v in row[2:]):
            problems.append(f"row {n}: non-float probability")
    if len(seen) != expected_count:
        problems.append(f"{len(seen)} unique files, expected {expected_count}")
    return problems


def check_label(label: str) -> list[str]:
    parts = label.split("_")
    if len(parts) != 4 or parts[2] != "task1b":
        return [f"label {label}"]
    if not parts[3].isdigit() or not 1 <= int(parts[3]) <= 4:
        return [f"label {label}: system number"]
    return []


def check_meta(meta: dict) -> list[str]:
    """The meta YAML: required fields at every level, one corresponding author, label, numbers."""
    problems = []
    for block in ("submission", "system", "results"):
        if block not in meta:
            problems.append(f"no {block} block")
    if problems:
        return problems
    sub = meta["submission"]
    problems += [f"submission.{f}" for f in _missing(sub, SUBMISSION_FIELDS)]
    authors = sub.get("authors") or []
    for i, author in enumerate(authors):
        problems += [f"submission.authors[{i}].{f}" for f in _missing(author, AUTHOR_FIELDS)]
    corresponding = sum(1 for a in authors if a.get("corresponding"))
    if corresponding != 1:
        problems.append(f"{corresponding} corresponding authors")
    problems += check_label(str(sub.get("label", "")))
    if len(str(sub.get("abbreviation", ""))) > 10:
        problems.append("abbreviation longer than 10")
    system = meta["system"]
    problems += [f"system.{f}" for f in _missing(system, SYSTEM_FIELDS)]
    problems += [f"system.description.{f}" for f in _missing(system.get("description"), DESCRIPTION_FIELDS)]
    complexity = system.get("complexity") or {}
    problems += [f"system.complexity.{f}" for f in _missing(complexity, COMPLEXITY_FIELDS)]
    try:
        int(complexity.get("total_parameters"))
    except (TypeError, ValueError):
        problems.append("total_parameters not a number")
    for i, item in enumerate(system.get("external_datasets") or []):
        problems += [f"system.external_datasets[{i}].{f}" for f in _missing(item, DATASET_FIELDS)]
    results = meta["results"]
    problems += [f"results.{f}" for f in _missing(results, ["development_dataset"])]
    dev = results.get("development_dataset") or {}
    problems += [f"results.development_dataset.{f}" for f in _missing(dev, DEV_FIELDS)]
    overall = dev.get("overall") or {}
    problems += [f"overall.{f}" for f in _missing(overall, METRIC_FIELDS)]
    problems += [f"overall.{k} not numeric" for k, v in overall.items() if not _is_float(v)]
    class_wise = dev.get("class_wise") or {}
    problems += [f"class_wise.{f}" for f in _missing(class_wise, sorted(SCENES))]
    for scene, values in class_wise.items():
        problems += [f"class_wise.{scene}.{f}" for f in _missing(values, METRIC_FIELDS)]
        problems += [f"class_wise.{scene}.{k} not numeric" for k, v in (values or {}).items() if not _is_float(v)]
    return problems


def check_file_names(output_name: str, meta_name: str, label: str) -> list[str]:
    """``<Label>.output.csv`` and ``<Label>.meta.yaml``, the label the meta's own."""
    problems = []
    for name, kind in ((output_name, "output.csv"), (meta_name, "meta.yaml")):
        parts = name.split(".")
        if len(parts) != 3 or ".".join(parts[1:]) != kind:
            problems.append(f"file name {name}")
        problems += check_label(parts[0])
        if parts[0] != label:
            problems.append(f"{name}: label differs from the meta's {label}")
    return problems


def check_package(path, *, expected_count: int) -> list[str]:
    """The zip: every task 1 file three folders deep under a task1b label, output + meta pairs."""
    problems = []
    with zipfile.ZipFile(path) as archive:
        if archive.testzip() is not None:
            problems.append("bad file in zip")
        entries: dict[str, dict[str, str]] = {}
        for name in archive.namelist():
            if name.endswith(("/", ".pdf")) or "task1" not in name:
                continue
            folders = posixpath.dirname(name).split("/")
            if len(folders) < 3 or folders[2].split("_")[2:3] != ["task1b"]:
                problems.append(f"{name}: not under <..>/<..>/<Label with task1b>/")
                continue
            kind = "output" if ".output.csv" in name else "meta" if ".meta.yaml" in name else None
            if kind is None:
                problems.append(f"{name}: neither output nor meta")
                continue
            entries.setdefault(folders[2], {})[kind] = name
        if not entries:
            problems.append("no task 1B submission in the zip")
        for label, files in entries.items():
            if set(files) != {"output", "meta"}:
                problems.append(f"{label}: has {sorted(files)}")
                continue
            problems += check_output(archive.read(files["output"]).decode("utf-8"), expected_count=expected_count)
            meta = yaml.load(archive.read(files["meta"]), Loader=yaml.FullLoader)
            problems += check_meta(meta)
            problems += check_file_names(
                posixpath.basename(files["output"]), posixpath.basename(files["meta"]), meta["submission"]["label"]
            )
            if label != meta["submission"]["label"]:
                problems.append(f"folder {label} != meta label")
    return problems
