"""The few DVC commands ``avsc data add`` needs, run through DVC's own command line.

DVC is called as a subprocess (the ``dvc`` next to the running Python, else ``python -m dvc``),
exactly as a user would type it, so its locks, config levels and ``core.autostage`` apply.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from avsc.errors import AvscError, ConfigError

#: Exit status of ``dvc config NAME`` when the option is not set.
CONFIG_UNSET_HINT = "doesn't exist"


def dvc_command() -> list[str]:
    """The ``dvc`` executable of this environment."""
    exe = Path(sys.executable).parent / "dvc"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "dvc"]


def require_repo(root: Path) -> None:
    """Refuse a folder that is not a DVC repository (one line)."""
    if not (root / ".dvc").is_dir():
        raise ConfigError(f"{root}: not a DVC repository (no .dvc folder; run `dvc init` there first)")


def run_dvc(root: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    """Run ``dvc ARGS`` in ``root``; with ``capture=False`` DVC's progress goes to the terminal."""
    return subprocess.run(
        [*dvc_command(), *args],
        cwd=root,
        text=True,
        capture_output=capture,
        check=False,
    )


def _last_error(proc: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (proc.stderr or "").splitlines() + (proc.stdout or "").splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or [line for line in lines if line] or [f"exit status {proc.returncode}"])[-1]


def get_config(root: Path, name: str, *, level: str) -> str | None:
    """The value of ``name`` in one config level (``project``: .dvc/config, ``local``: .dvc/config.local)."""
    proc = run_dvc(root, "config", f"--{level}", name)
    if proc.returncode == 0:
        return proc.stdout.strip() or None
    if CONFIG_UNSET_HINT in (proc.stderr or ""):
        return None
    raise AvscError(f"dvc config --{level} {name} failed: {_last_error(proc)}")


def set_config(root: Path, name: str, value: str, *, level: str) -> None:
    proc = run_dvc(root, "config", f"--{level}", name, value)
    if proc.returncode != 0:
        raise AvscError(f"dvc config --{level} {name} {value} failed: {_last_error(proc)}")


def dvc_add(root: Path, target: str) -> None:
    """``dvc add TARGET`` with DVC's own progress on the terminal."""
    proc = run_dvc(root, "add", target, capture=False)
    if proc.returncode != 0:
        raise AvscError(f"dvc add {target} failed (exit status {proc.returncode}; DVC's message is above)")


def stage_outputs(root: Path) -> list[str]:
    """Every output path that ``dvc.yaml``'s stages declare (outs, metrics, plots), as written there."""
    path = root / "dvc.yaml"
    if not path.is_file():
        return []
    try:
        stages = (yaml.safe_load(path.read_text()) or {}).get("stages") or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    found = []
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                for out in entry if isinstance(entry, dict) else [entry]:
                    if isinstance(out, str) and "${" not in out:
                        found.append(out)
    return found
