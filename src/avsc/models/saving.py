"""Where each training stage keeps its model, and how saved models are loaded (one place for both
the training stages and the stages that read their models: evaluate, register, tune)."""

from __future__ import annotations

from pathlib import Path

from avsc.config.settings import Params
from avsc.errors import DataError

#: The Keras file every training stage writes into ``<models_dir>/<stage>/``.
MODEL_FILE = "model.keras"


def model_dir(params: Params, root_dir: Path, stage: str) -> Path:
    """``<root>/<base.models_dir>/<stage>``: the output folder of a training stage."""
    return root_dir / params.base.models_dir / stage


def model_path(params: Params, root_dir: Path, stage: str) -> Path:
    """The saved model of a training stage."""
    return model_dir(params, root_dir, stage) / MODEL_FILE


def load_keras_model(path: Path):
    """Load a saved model in Keras safe mode; a missing file is a one-line :class:`DataError`."""
    import keras

    import avsc.models.secrnn  # noqa: F401  (registers avsc layers, if any)

    if not Path(path).is_file():
        raise DataError(f"{path}: model not found; run the earlier training stages (`dvc repro`)")
    return keras.saving.load_model(path, safe_mode=True)
