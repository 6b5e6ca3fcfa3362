"""The dataset as an MLflow dataset input: name, digest = the manifest's dataset hash, source =
``data.root``, and the split sizes, so the runs table's Dataset column shows what a run read."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def manifest_dataset(manifest: Mapping[str, Any]):
    """A metadata-only MLflow dataset for the manifest's dataset (the media stay where they are)."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    root = str(manifest["root"])
    name = Path(root).name or root
    with warnings.catch_warnings():  # a local folder matches two equivalent local source types
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(root)
    # MetaDataset is concrete (its ``profile`` is a property returning None); its stub says abstract
    return MetaDataset(source, name=name, digest=str(manifest["dataset_hash"])[:36])  # type: ignore[abstract]


def dataset_tags(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Input tags: split sizes and whether the data is the synthetic sample."""
    counts = manifest.get("counts", {})
    tags = {f"n_{split}": str(n) for split, n in sorted(counts.items())}
    tags["data"] = str(manifest.get("data", ""))
    tags["n_clips"] = str(manifest.get("n_clips", sum(counts.values())))
    return tags


def log_dataset(manifest: Mapping[str, Any], *, context: str) -> None:
    """Log the dataset as an input of the active run (context "train" or "evaluate")."""
    import mlflow

    mlflow.log_input(manifest_dataset(manifest), context=context, tags=dataset_tags(manifest))
