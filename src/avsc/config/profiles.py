"""Parameter profiles: ``profiles/<name>.yaml`` files that ``avsc profile NAME`` copies to ``params.yaml``.

``default`` is the quick profile embedded in ``params.yaml``; ``paper`` holds the SE-CRNN paper's
exact settings (sec. 2.5).
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from avsc.config.settings import Params, find_root, parse_params
from avsc.errors import ConfigError

log = logging.getLogger(__name__)

#: Profiles folder at import time; functions re-resolve it (``AVSC_ROOT`` may change, e.g. in tests).
PROFILES_DIR = find_root() / "profiles"


def profiles_dir() -> Path:
    """``<repo>/profiles`` (repository root from ``AVSC_ROOT`` or the nearest ``params.yaml``)."""
    return find_root() / "profiles"


def available_profiles() -> list[str]:
    folder = profiles_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def profile_path(name: str) -> Path:
    """The file of profile ``name``; :class:`ConfigError` naming the file when it does not exist."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"invalid profile name {name!r}")
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError(f"{path}: unknown profile {name!r} (available: {known})")
    return path


def _read(path: Path) -> tuple[str, Params, dict]:
    text = path.read_text()
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return text, parse_params(raw, source=path), raw


def load_profile(name: str) -> Params:
    """Load and validate ``profiles/<name>.yaml``."""
    return _read(profile_path(name))[1]


def _flatten(d, prefix: str = "") -> dict:
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = d
    return out


def changed_keys(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """``(key, old, new)`` for every dotted key whose value differs."""
    a, b = _flatten(old or {}), _flatten(new or {})
    missing = object()
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb:
            rows.append((key, None if va is missing else va, None if vb is missing else vb))
    return rows


def cli_profile(args) -> int:
    """``avsc profile NAME``: validate ``profiles/NAME.yaml`` and write it to ``params.yaml`` atomically."""
    from avsc.io import atomic_write_text

    path = profile_path(args.name)
    text, _, new_raw = _read(path)
    target = Path(args.params) if getattr(args, "params", None) else find_root() / "params.yaml"
    old_raw: dict = {}
    if target.is_file():
        try:
            old_raw = yaml.safe_load(target.read_text()) or {}
        except yaml.YAMLError:
            old_raw = {}
    changes = changed_keys(old_raw, new_raw)
    atomic_write_text(target, text)
    if not changes:
        log.info("%s already matches profile %r; nothing changed", target, args.name)
        return 0
    log.info("%s now holds profile %r (%d settings changed):", target, args.name, len(changes))
    for key, old, new in changes:
        log.info("  %s: %r -> %r", key, old, new)
    log.info("run `dvc repro` to rebuild the affected stages")
    return 0
