"""``avsc submission``: a registered model on every clip of a 1-s evaluation set → a challenge package.

Order of work: the cheap checks first (label, authors file, clip list, model version and its
evaluate run), then inference in chunks (resumable, see :mod:`.progress`), then the output CSV,
the meta YAML and the zip, each written atomically. The output always has one row per clip: a
clip that cannot be read stops the run naming the file, or with ``on_error="uniform"`` gets the
uniform distribution and is listed in ``<Label>.failed_clips.csv``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avsc.data.tau import CLASSES
from avsc.errors import DataError
from avsc.io import atomic_write_text
from avsc.submission.clips import EvalClip, clips_fingerprint, list_clips
from avsc.submission.meta import (
    augmentation_text,
    build_meta,
    check_label,
    development_results,
    load_authors,
    meta_text,
)
from avsc.submission.output_csv import check_output, output_frame, output_text, uniform
from avsc.submission.package import write_package
from avsc.submission.progress import PartialStore

log = logging.getLogger(__name__)

ON_ERROR = ("stop", "uniform")


@dataclass(frozen=True)
class SubmissionResult:
    """What a submission run wrote."""

    output: Path
    meta: Path
    package: Path
    n_clips: int
    failed: list[tuple[str, str]]
    failed_report: Path | None
    model: str


def chunks(clips: list[EvalClip], size: int) -> list[list[EvalClip]]:
    return [clips[i : i + size] for i in range(0, len(clips), size)]


def infer_all(clips: list[EvalClip], *, scorer, store: PartialStore, chunk_size: int, on_error: str) -> pd.DataFrame:
    """Score every chunk that ``store`` does not hold yet; return all rows, in clip order."""
    from tqdm import tqdm

    parts = chunks(clips, chunk_size)
    done = sum(store.done(k) for k in range(len(parts)))
    if done:
        log.info("submission: resuming, %d of %d chunks already in %s", done, len(parts), store.folder)
    n_done = sum(len(p) for k, p in enumerate(parts) if store.done(k))
    with tqdm(total=len(clips), initial=n_done, desc="submission", unit="clip", disable=None) as bar:
        for k, part in enumerate(parts):
            if store.done(k):
                continue
            proba, failures = scorer.score(part)
            if failures and on_error == "stop":
                raise DataError(
                    f"{failures[0].reason}; fix or replace the clip and run again (finished chunks are kept), "
                    "or use --on-error uniform to give it the uniform distribution"
                )
            errors = [""] * len(part)
            position = {id(c): i for i, c in enumerate(part)}
            for failure in failures:
                i = position[id(failure.clip)]
                proba[i] = uniform()
                errors[i] = failure.reason
                log.warning("submission: %s -> uniform distribution", failure.reason)
            store.write(k, [c.filename for c in part], proba, errors)
            bar.update(len(part))
    return pd.concat([store.read(k) for k in range(len(parts))], ignore_index=True)


def make_submission(
    *,
    eval_dir: Path,
    label: str,
    out_dir: Path,
    model_uri: str,
    authors: Path,
    on_error: str = "stop",
    chunk_size: int = 256,
    batch_size: int = 32,
    report: Path | None = None,
) -> SubmissionResult:
    """Run the registered model ``model_uri`` on ``eval_dir`` and write the package into ``out_dir``."""
    from avsc.predict import media_limits
    from avsc.submission.complexity import bundle_counts
    from avsc.submission.infer import ClipScorer, load_bundle
    from avsc.submission.source import model_source

    if on_error not in ON_ERROR:
        raise DataError(f"--on-error {on_error!r}: expected one of {', '.join(ON_ERROR)}")
    if chunk_size < 1 or batch_size < 1:
        raise DataError("--chunk-size and --batch-size must be at least 1")
    label = check_label(label)
    author_info = load_authors(authors)
    if report is not None and not Path(report).is_file():
        raise DataError(f"{report}: technical report not found")
    clips = list_clips(eval_dir)
    source = model_source(model_uri)
    model_id = f"{source.name}/{source.version}"
    log.info("submission: %s (version %s) on %d clips of %s", model_uri, source.version, len(clips), eval_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model_id,
        "clips": clips_fingerprint(clips),
        "n_clips": len(clips),
        "chunk_size": chunk_size,
        "on_error": on_error,
    }
    store = PartialStore.open(out_dir, state)
    bundle = load_bundle(model_uri)
    scorer = ClipScorer(bundle, batch_size=batch_size, limits=media_limits())
    rows = infer_all(clips, scorer=scorer, store=store, chunk_size=chunk_size, on_error=on_error)
    expected = [c.filename for c in clips]
    check_output(rows, expected=expected)
    frame = output_frame(list(rows["filename"]), rows[list(CLASSES)].to_numpy(dtype=np.float64))
    check_output(frame, expected=expected)

    output = out_dir / f"{label}.output.csv"
    atomic_write_text(output, output_text(frame))
    config = asdict(bundle.config)
    meta = build_meta(
        label=label,
        authors=author_info,
        config=config,
        counts=bundle_counts(bundle),
        results=development_results(source.metrics, head=bundle.config.final_head),
        augmentation=augmentation_text(source.pipeline_params),
        source_code=author_info.source_code,
    )
    meta_path = out_dir / f"{label}.meta.yaml"
    atomic_write_text(meta_path, meta_text(meta))
    package = write_package(out_dir, label=label, output=output, meta=meta_path, report=report)

    failed = [(f, e) for f, e in zip(rows["filename"], rows["error"], strict=True) if e]
    report_path = out_dir / f"{label}.failed_clips.csv"
    failed_report: Path | None = report_path
    if failed:
        text = pd.DataFrame(failed, columns=["filename", "error"]).to_csv(sep="\t", index=False, lineterminator="\n")
        atomic_write_text(report_path, text)
        log.warning(
            "submission: %d clip(s) could not be read and got the uniform distribution; see %s",
            len(failed),
            failed_report,
        )
    else:
        report_path.unlink(missing_ok=True)
        failed_report = None
    store.remove()
    log.info("submission: wrote %s, %s and %s (%d rows)", output.name, meta_path.name, package.name, len(frame))
    return SubmissionResult(output, meta_path, package, len(clips), failed, failed_report, model_id)


def cli_submission(args) -> int:
    """``avsc submission``."""
    from avsc.predict import default_model_uri

    uri = args.model or default_model_uri(getattr(args, "params", None))
    result = make_submission(
        eval_dir=args.eval_dir,
        label=args.label,
        out_dir=args.out,
        model_uri=uri,
        authors=args.authors,
        on_error=args.on_error,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        report=args.report,
    )
    print(f"{result.package}")
    print(f"  {result.output.name}: {result.n_clips} rows ({len(result.failed)} uniform)")
    print(f"  {result.meta.name}: model {result.model}")
    if result.failed_report:
        print(f"  {result.failed_report.name}: clips that could not be read")
    return 0
