"""The pinned requirements recorded with every logged model.

Keras models need TensorFlow and Keras; the registered pyfunc also runs avsc's front end, whose
code ships with the model (MLflow ``code_paths``), so its third-party imports are listed here at
the versions installed in this environment. ``avsc`` itself is not a requirement: a model loads
and serves where the pinned packages are installed, without this repository.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

KERAS = ("tensorflow-cpu", "keras")
#: What the pyfunc's code imports (media decoding, the audio front ends, settings, arrays).
SERVING = (
    *KERAS,
    "numpy",
    "scipy",
    "pandas",
    "soundfile",
    "av",
    "librosa",
    "pydantic",
    "pyyaml",
    "tqdm",
    "threadpoolctl",
)


def _pinned(names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def pip_requirements() -> list[str]:
    """``tensorflow-cpu`` and ``keras`` at the versions installed here (Keras models)."""
    return _pinned(KERAS)


def serving_requirements() -> list[str]:
    """Everything the registered pyfunc imports besides avsc's own code (which ships with it)."""
    return _pinned(SERVING)
