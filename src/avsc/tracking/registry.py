"""Model Registry: ``register`` (DVC stage) and ``avsc promote`` (gated move of ``@champion``).

A new version of ``avsc-fused`` per pipeline execution, tagged with its evaluation metrics and
lineage, gets the alias ``challenger``. Promotion moves ``champion`` to it only when it beats the
current champion on evaluate log-loss of the same dataset version; ``--force`` overrides and is
recorded on the version. A file lock next to the store serialises promotions on one machine, and
an alias is a single pointer, so there is never zero or two champions.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

from avsc.config.settings import Params, find_root, load_params
from avsc.data.manifest import read_manifest
from avsc.data.media import atomic_write_text
from avsc.errors import AvscError
from avsc.features.stage import AUDIO_DIR, BACKBONE_FILE, VISUAL_DIR

log = logging.getLogger(__name__)


def _metrics(root_dir: Path, params: Params) -> dict:
    path = root_dir / params.base.reports_dir / "evaluate" / "metrics.json"
    if not path.is_file():
        raise AvscError(f"{path}: not found; run `dvc repro evaluate` first")
    return json.loads(path.read_text())


def register(params: Params, root_dir: Path | None = None) -> dict:
    """Log the raw-media pyfunc, register it as a new version with alias ``challenger``."""
    import mlflow

    from avsc.tracking.pyfunc_model import FusedSceneModel
    from avsc.tracking.service import git_commit, stage_run
    from avsc.training.stages import MODEL_FILE, _pip_requirements, model_dir

    root_dir = root_dir or find_root()
    reg = params.register_
    manifest = read_manifest(root_dir / params.data.manifest)
    metrics = _metrics(root_dir, params)
    feats = root_dir / params.base.features_dir
    finetune_dir = model_dir(params, root_dir, "finetune")
    source_run = json.loads((finetune_dir / "metrics.json").read_text()).get("run_id", "")
    visual_manifest = json.loads((feats / VISUAL_DIR / "manifest.json").read_text())
    config = {"audio": params.features.audio.model_dump(), "visual": params.features.visual.model_dump(),
              "final_head": metrics.get("final_head", "late"), "classes": "official DCASE order",
              "backbone_pretrained": visual_manifest.get("backbone_pretrained", False)}
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config, indent=1))
        artifacts = {"keras_model": str(finetune_dir / MODEL_FILE),
                     "audio_stats": str(feats / AUDIO_DIR / "stats.npz"),
                     "visual_stats": str(feats / VISUAL_DIR / "stats.npz"),
                     "backbone": str(feats / VISUAL_DIR / BACKBONE_FILE),
                     "config": str(config_path)}
        tags = {"logloss": f"{metrics['logloss']:.6f}", "accuracy": f"{metrics['accuracy']:.6f}",
                "dataset_hash": manifest["dataset_hash"], "data": manifest["data"], "git_commit": git_commit(),
                "source_run_finetune": source_run, "system": params.model.system,
                "backbone_pretrained": str(config["backbone_pretrained"])}
        with stage_run(stage="register", system=params.model.system, data=manifest["data"],
                       experiment=params.base.experiment, params=reg.model_dump(),
                       lineage=("prepare", "features_audio", "features_visual", "finetune"),
                       extra_tags={"dataset_hash": manifest["dataset_hash"]}) as run:
            mlflow.log_metrics({"logloss": metrics["logloss"], "accuracy": metrics["accuracy"]})
            info = mlflow.pyfunc.log_model(name="model", python_model=FusedSceneModel(), artifacts=artifacts,
                                           pip_requirements=_pip_requirements() + ["avsc"])
            version = mlflow.register_model(info.model_uri, reg.model_name, tags=tags | {"source_run": run.info.run_id})
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(reg.model_name, reg.alias, version.version)
    result = {"model_name": reg.model_name, "version": int(version.version), "alias": reg.alias,
              "model_uri": f"models:/{reg.model_name}@{reg.alias}", "logloss": metrics["logloss"],
              "accuracy": metrics["accuracy"], "dataset_hash": manifest["dataset_hash"], "data": manifest["data"]}
    atomic_write_text(root_dir / params.base.reports_dir / "register.json", json.dumps(result, indent=1))
    log.info("register: %s version %s (log-loss %.3f) is @%s", reg.model_name, version.version, metrics["logloss"],
             reg.alias)
    return result


def _version_by_alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def decide(challenger_tags: dict, champion_tags: dict | None) -> tuple[bool, str]:
    """Whether a challenger beats the champion (pure). Returns (promote, reason)."""
    if champion_tags is None:
        return True, "no champion yet: the first challenger becomes champion"
    if challenger_tags.get("dataset_hash") != champion_tags.get("dataset_hash"):
        return False, ("not comparable: the challenger was evaluated on dataset "
                       f"{challenger_tags.get('dataset_hash', '?')[:12]}, the champion on "
                       f"{champion_tags.get('dataset_hash', '?')[:12]}")
    new, old = float(challenger_tags["logloss"]), float(champion_tags["logloss"])
    if new < old:
        return True, f"challenger log-loss {new:.4f} < champion {old:.4f}"
    return False, f"challenger log-loss {new:.4f} is not better than champion {old:.4f}"


def promote(*, model_name: str, challenger_alias: str = "challenger", champion_alias: str = "champion",
            force: bool = False, lock_dir: Path | None = None) -> dict:
    """Move ``champion`` to the challenger when it is better (or ``force``); returns the decision."""
    import mlflow
    from filelock import FileLock

    from avsc.tracking.service import configure

    configure()
    client = mlflow.MlflowClient()
    lock_dir = lock_dir or (find_root() / "mlruns")
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / f".promote-{model_name}.lock"), timeout=120):
        challenger = _version_by_alias(client, model_name, challenger_alias)
        if challenger is None:
            raise AvscError(f"models:/{model_name}@{challenger_alias} does not exist; run `dvc repro register` first")
        champion = _version_by_alias(client, model_name, champion_alias)
        if champion is not None and champion.version == challenger.version:
            return {"promoted": False, "version": int(challenger.version),
                    "reason": f"version {challenger.version} is already @{champion_alias}"}
        ok, reason = decide(challenger.tags, champion.tags if champion else None)
        if not ok and force:
            ok, reason = True, f"forced: {reason}"
            client.set_model_version_tag(model_name, challenger.version, "promoted_by_force", "true")
            client.set_model_version_tag(model_name, challenger.version, "force_reason", reason)
        if ok:
            client.set_registered_model_alias(model_name, champion_alias, challenger.version)
            client.set_model_version_tag(model_name, challenger.version, "promoted_at",
                                         time.strftime("%Y-%m-%dT%H:%M:%S"))
            if champion is not None:
                client.set_model_version_tag(model_name, challenger.version, "previous_champion", champion.version)
    return {"promoted": ok, "version": int(challenger.version), "reason": reason,
            "previous_champion": int(champion.version) if champion else None}


def cli_register(args) -> int:
    register(load_params(args.params))
    return 0


def cli_promote(args) -> int:
    params = load_params(args.params)
    reg = params.register_
    result = promote(model_name=args.model_name or reg.model_name, challenger_alias=reg.alias,
                     champion_alias=reg.champion_alias, force=args.force)
    name = args.model_name or reg.model_name
    if result["promoted"]:
        print(f"{name} version {result['version']} is now @{reg.champion_alias} ({result['reason']})")
    else:
        print(f"{name}: @{reg.champion_alias} unchanged ({result['reason']})")
    return 0
