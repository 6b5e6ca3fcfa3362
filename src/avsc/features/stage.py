"""What the ``features_audio`` and ``features_visual`` stages share.

Both stream over the clips of the manifest (never holding the dataset in memory) and write one
array per clip into a :class:`~avsc.features.store.FeatureStore` under
``<features_dir>/.partial/<kind>-<fingerprint>``; a killed run resumes there, keeping every
finished clip. A finished store gets its normalisation statistics (fitted on the train split
only) and its manifest, then is published as the stage's DVC output (``<features_dir>/<kind>``).
The output is not ``persist``-ent, so DVC's run cache keys it by the stage's params and code:
switching ``model.system`` back and forth restores each system's features instead of recomputing
them. A store's fingerprint covers the params, the dataset, the source of the code computing one
clip and (visual) the backbone weights' content.

A corrupt clip stops the stage with its file named (``features.on_error: stop``) or is listed in
``skipped.json`` and excluded (``features.on_error: skip``, up to ``features.max_skipped_fraction``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from avsc.config.settings import Params, load_params
from avsc.errors import DataError
from avsc.features.layout import PARTIAL_DIR, STATS_FILE, feature_dir, features_root, partial_dir
from avsc.features.normalize import RunningStats, save_stats
from avsc.features.store import MARKER, FeatureStore, fingerprint

log = logging.getLogger(__name__)


def open_work_store(params: Params, root_dir: Path, kind: str, state: dict) -> tuple[FeatureStore, str]:
    """The resumable store of ``kind`` for ``state``; stores of other fingerprints of ``kind`` are removed.

    A published store computed with the same fingerprint (a stage run again outside DVC, which
    would have removed it) is taken back as the work store, so only its missing clips are computed;
    one of another fingerprint is stale and removed, so no output ever disagrees with its inputs.
    """
    fp = fingerprint(state)
    folder = partial_dir(params, root_dir, kind, fp)
    for stale in (features_root(params, root_dir) / PARTIAL_DIR).glob(f"{kind}-*"):
        if stale != folder and (stale / MARKER).is_file():
            log.info("removing an unfinished %s feature store of other settings: %s", kind, stale)
            shutil.rmtree(stale)
    published = feature_dir(params, root_dir, kind)
    previous = _fingerprint_of(published)
    if not folder.exists() and previous == fp:
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(published, folder)
    elif previous is not None and previous != fp:
        log.info(
            "removing %s: computed with other settings, data or code (as DVC does before it runs the stage)", published
        )
        shutil.rmtree(published)
    store = FeatureStore(folder)
    return store, store.begin(state)


def _fingerprint_of(folder: Path) -> str | None:
    """The fingerprint of a feature store avsc wrote at ``folder`` (None for anything else)."""
    if not (folder / MARKER).is_file():
        return None
    try:
        return json.loads((folder / "state.json").read_text()).get("fingerprint")
    except (OSError, json.JSONDecodeError):
        return None


def fit_train_stats(
    store: FeatureStore, clips: list[dict], failures: dict[str, str], *, time_axis: int, min_std_ratio: float = 0.0
) -> dict[str, list[int]]:
    """One streaming pass over the stored clips: their shapes, and ``stats.npz`` fitted on train only."""
    stats = RunningStats(axis=time_axis)
    shapes = {}
    for c in clips:
        if c["clip"] in failures:
            continue
        arr = store.load(c["clip"], mmap=True)
        shapes[c["clip"]] = list(arr.shape)
        if c["split"] == "train":
            stats.update(arr)
    try:
        mean, std = stats.result(min_std_ratio=min_std_ratio)
    except ValueError:
        raise DataError(f"{store.folder}: no training clip has features; cannot fit normalisation") from None
    save_stats(store.folder / STATS_FILE, mean=mean, std=std)
    return shapes


def cli_features(args) -> int:
    """``avsc features {audio,visual}``: run a feature stage outside DVC."""
    params = load_params(args.params)
    if args.modality == "audio":
        from avsc.features.audio_stage import run_audio_stage

        run_audio_stage(params)
    else:
        from avsc.features.visual_stage import run_visual_stage

        run_visual_stage(params)
    return 0
