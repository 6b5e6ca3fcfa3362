"""Model Registry: ``register`` (DVC stage) and ``avsc promote`` (gated move of ``@champion``).

Each system registers under its own model (``register.model_name.<system>``: ``avsc-fused`` for the
SE-CRNN, as before, ``avsc-dualstream``, ``avsc-joint``), so a challenger is only ever compared with
a champion of the same system. A new version per pipeline execution, tagged with its evaluation
metrics and lineage and described on its page, gets the alias ``challenger``. Promotion moves
``champion`` to it only when it beats the current champion under the rule of
:mod:`avsc.tracking.promotion`; ``--force`` overrides and is recorded on the version. A file lock
next to the store serialises promotions on one machine, and an alias is a single pointer, so
there is never zero or two champions.

Machines that share only the tracking server cannot share that lock, and MLflow has no
compare-and-set on aliases, so promotion is optimistic. Each ``avsc promote`` first *claims* its
version (tag ``promotion_claimed_at``, Unix time), then reads the champion, decides, records the
decision on the version and moves the alias when the rule says so. Then it settles: it re-reads the
champion and every version claimed in the last ``CLAIM_TTL_S`` seconds and, when the rule prefers
one of them to the champion (another promoter's write landed on top of a better one), moves the
alias there and records why (``promotion_reason`` "settled: ..."; the losing claim gets
``promotion_superseded``), repeating until nothing changes (at most ``SETTLE_ROUNDS``). The last
process to move the alias always settles after its own write, with every claim made before it in
view, so the champion ends where serial promotions would have left it, never on a worse model. A
promotion must reach its alias move within ``CLAIM_TTL_S / 2`` of its claim (it claims again
otherwise), so every claim it could have overwritten is still live when it settles. Clocks of
the machines must agree to well within ``CLAIM_TTL_S``. A ``--force`` promotion is not settled
away by claims made before it.
"""

from __future__ import annotations

import json
import logging
import math
import random
import tempfile
import time
from pathlib import Path

from avsc.config.settings import Params, find_root, load_params
from avsc.data.manifest import read_manifest
from avsc.errors import AvscError
from avsc.io import atomic_write_text
from avsc.tracking.promotion import decide, settle, tag_logloss

log = logging.getLogger(__name__)

CLAIM_TAG = "promotion_claimed_at"
#: How long a claim is considered by other promoters' settling, in seconds.
CLAIM_TTL_S = 600.0
SETTLE_ROUNDS = 10


def _metrics(root_dir: Path, params: Params) -> dict:
    """The evaluate metrics; a missing file or a log-loss/accuracy that is not a finite number is one line."""
    path = root_dir / params.base.reports_dir / "evaluate" / "metrics.json"
    if not path.is_file():
        raise AvscError(f"{path}: not found; run `dvc repro evaluate` first")
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AvscError(f"{path}: not valid JSON ({exc})") from None
    for key in ("logloss", "accuracy"):
        value = metrics.get(key)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise AvscError(f"{path}: {key} is {value!r}, not a finite number; the model cannot be registered")
    return metrics


def model_name(params: Params) -> str:
    """The registered model of the active system (``register.model_name.<system>``)."""
    return getattr(params.register_.model_name, params.system)


def version_description(*, system: str, data: str, metrics: dict, info: dict, source_run: str) -> str:
    """The Markdown shown on the model version's page: what it is, on which data, how good, from where."""
    heads = ", ".join(
        f"{h} {v['logloss']:.3f} / {100 * v['accuracy']:.1f} %"
        for h, v in metrics.get("heads", {}).items()
        if v.get("logloss") is not None and v.get("accuracy") is not None
    )
    return "\n".join(
        [
            f"**{system}** ({info.get('profile', '?')} profile), final head `{info.get('final_head')}`.",
            f"Data: {data}{' (SYNTHETIC sample: not comparable with TAU)' if data == 'synthetic' else ''}, "
            f"dataset {str(info.get('dataset_hash', ''))[:12]}, {info.get('n_segments')} one-second segments, "
            f"{info.get('n_skipped', 0)} clips skipped.",
            f"Evaluate: log-loss {metrics['logloss']:.4f}, accuracy {100 * metrics['accuracy']:.1f} % "
            f"(per head, log-loss / accuracy: {heads}).",
            f"Backbone pretrained: {info.get('backbone_pretrained')}. Fine-tune run `{source_run}`.",
        ]
    )


def register(params: Params, root_dir: Path | None = None) -> dict:
    """Log the raw-media pyfunc, register it as a new version of the system's model with alias ``challenger``."""
    import mlflow

    import avsc
    from avsc.features.layout import AUDIO_DIR, BACKBONE_FILE, STATS_FILE, VISUAL_DIR, feature_dir
    from avsc.inference import BundleConfig
    from avsc.models.saving import model_dir, model_path
    from avsc.tracking.pyfunc_model import SceneModel
    from avsc.tracking.requirements import serving_requirements
    from avsc.tracking.runs import GIT_COMMIT_TAG, stage_run
    from avsc.tracking.signature import input_example, model_signature

    root_dir = root_dir or find_root()
    reg = params.register_
    name = model_name(params)
    manifest = read_manifest(root_dir / params.data.manifest)
    metrics = _metrics(root_dir, params)
    info = _run_info(root_dir, params)
    if info.get("system") not in (None, params.system):
        raise AvscError(
            f"{root_dir / params.base.reports_dir / 'evaluate' / 'run.json'}: evaluated system {info.get('system')!r} "
            f"is not model.system {params.system!r}; run `dvc repro evaluate`"
        )
    source_run = _stage_run_id(model_dir(params, root_dir, "finetune"))
    visual = feature_dir(params, root_dir, VISUAL_DIR)
    visual_manifest = json.loads((visual / "manifest.json").read_text())
    config = BundleConfig.from_params(
        params,
        final_head=str(info.get("final_head")),
        backbone_pretrained=bool(visual_manifest.get("backbone_pretrained", False)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(config.to_json())
        artifacts = {
            "config": str(config_path),
            "keras_model": str(model_path(params, root_dir, "finetune")),
            "audio_stats": str(feature_dir(params, root_dir, AUDIO_DIR) / STATS_FILE),
            "visual_stats": str(visual / STATS_FILE),
            "backbone": str(visual / BACKBONE_FILE),
        }
        tags = {
            "logloss": f"{metrics['logloss']:.6f}",
            "accuracy": f"{metrics['accuracy']:.6f}",
            "dataset_hash": manifest["dataset_hash"],
            "data": manifest["data"],
            "source_run_finetune": source_run,
            "system": params.system,
            "profile": params.base.profile,
            "backbone_pretrained": str(config.backbone_pretrained),
            "final_head": config.final_head,
            "n_segments": str(metrics.get("n_segments", "")),
            "n_skipped": str(metrics.get("n_skipped", 0)),
        }
        with stage_run(
            stage="register",
            params=params,
            manifest=manifest,
            run_params={"model_name": name, "alias": reg.alias, "champion_alias": reg.champion_alias},
            lineage=("prepare", "features_audio", "features_visual", "finetune"),
        ) as run:
            mlflow.log_metrics({"logloss": metrics["logloss"], "accuracy": metrics["accuracy"]})
            logged = mlflow.pyfunc.log_model(
                name="model",
                python_model=SceneModel(),
                artifacts=artifacts,
                code_paths=[str(Path(avsc.__file__).parent)],
                pip_requirements=serving_requirements(),
                signature=model_signature(),
                input_example=input_example(),
            )
            tags |= {"source_run": run.info.run_id, "git_commit": run.data.tags.get(GIT_COMMIT_TAG, "unknown")}
            version = mlflow.register_model(logged.model_uri, name, tags=tags)
    client = mlflow.MlflowClient()
    client.update_model_version(
        name,
        version.version,
        description=version_description(
            system=params.system, data=manifest["data"], metrics=metrics, info=info, source_run=source_run
        ),
    )
    client.set_registered_model_alias(name, reg.alias, version.version)
    result = {
        "model_name": name,
        "version": int(version.version),
        "alias": reg.alias,
        "model_uri": f"models:/{name}@{reg.alias}",
        "system": params.system,
        "logloss": metrics["logloss"],
        "accuracy": metrics["accuracy"],
        "dataset_hash": manifest["dataset_hash"],
        "data": manifest["data"],
    }
    atomic_write_text(root_dir / params.base.reports_dir / "register.json", json.dumps(result, indent=1))
    log.info("register: %s version %s (log-loss %.3f) is @%s", name, version.version, metrics["logloss"], reg.alias)
    return result


def _run_info(root_dir: Path, params: Params) -> dict:
    path = root_dir / params.base.reports_dir / "evaluate" / "run.json"
    if not path.is_file():
        raise AvscError(f"{path}: not found; run `dvc repro evaluate` first")
    return json.loads(path.read_text())


def _stage_run_id(folder: Path) -> str:
    path = folder / "run.json"
    return str(json.loads(path.read_text()).get("run_id", "")) if path.is_file() else ""


def _version_by_alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def promote(
    *,
    model_name: str,
    challenger_alias: str = "challenger",
    champion_alias: str = "champion",
    version: str | int | None = None,
    force: bool = False,
    lock_dir: Path | None = None,
    lock_timeout_s: float = 120.0,
) -> dict:
    """Move ``champion`` to the challenger (or ``version``) when it is better (or ``force``); returns the decision.

    The result also names the champion once concurrent promotions have settled (``champion``).
    """
    import mlflow
    from filelock import FileLock, Timeout

    from avsc.tracking.service import configure

    configure()
    client = mlflow.MlflowClient()
    lock_dir = lock_dir or (find_root() / "mlruns")
    lock_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_dir / f".promote-{model_name}.lock"), timeout=lock_timeout_s):
            return _promote_locked(
                client,
                model_name=model_name,
                challenger_alias=challenger_alias,
                champion_alias=champion_alias,
                version=version,
                force=force,
            )
    except Timeout:
        raise AvscError(
            f"{lock_dir / f'.promote-{model_name}.lock'}: another `avsc promote` has held the lock for "
            f"{lock_timeout_s:g} s; try again when it has finished"
        ) from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _claim(client, model_name: str, version: str) -> float:
    claimed = time.time()
    client.set_model_version_tag(model_name, version, CLAIM_TAG, f"{claimed:.3f}")
    return claimed


def _claim_time(tags) -> float | None:
    try:
        return float(tags[CLAIM_TAG])
    except (KeyError, TypeError, ValueError):
        return None


def _challenger(client, model_name: str, challenger_alias: str, version: str | int | None):
    from mlflow.exceptions import MlflowException

    if version is None:
        found = _version_by_alias(client, model_name, challenger_alias)
        if found is None:
            raise AvscError(f"models:/{model_name}@{challenger_alias} does not exist; run `dvc repro register` first")
        return found
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException:
        raise AvscError(f"models:/{model_name}/{version} does not exist") from None


def _promote_locked(
    client, *, model_name: str, challenger_alias: str, champion_alias: str, version: str | int | None, force: bool
) -> dict:
    challenger = _challenger(client, model_name, challenger_alias, version)
    mine = str(challenger.version)
    claimed = _claim(client, model_name, mine)
    champion = _version_by_alias(client, model_name, champion_alias)
    if champion is not None and str(champion.version) == mine:
        result = {
            "promoted": False,
            "version": int(mine),
            "reason": f"version {mine} is already @{champion_alias}",
            "previous_champion": int(champion.version),
        }
        return result | {"champion": _settle(client, model_name, champion_alias, mine)}
    decision = decide(challenger.tags, champion.tags if champion else None)
    ok, reason = decision.promote, decision.reason
    audit = {"promotion_decided_at": _now(), "promotion_reason": reason}
    if not ok and force:
        if tag_logloss(challenger.tags) is None:
            raise AvscError(f"{model_name} version {mine}: {reason}; --force cannot promote it")
        ok, reason = True, f"forced: {reason}"
        audit |= {"promoted_by_force": "true", "force_reason": reason, "promotion_reason": reason}
    if ok:
        # the audit record first: a crash after the alias move must not leave a champion without it
        audit |= {
            "promoted_at": audit["promotion_decided_at"],
            "previous_champion": champion.version if champion is not None else "none",
        }
    else:
        audit["promotion_refused"] = reason
    for key, value in audit.items():
        client.set_model_version_tag(model_name, mine, key, str(value))
    if ok:
        if time.time() - claimed > CLAIM_TTL_S / 2:  # others may no longer see what this write could hide
            log.warning("promotion of version %s took longer than %.0f s: deciding again", mine, CLAIM_TTL_S / 2)
            return _promote_locked(
                client,
                model_name=model_name,
                challenger_alias=challenger_alias,
                champion_alias=champion_alias,
                version=mine,
                force=force,
            )
        client.set_registered_model_alias(model_name, champion_alias, mine)
    final = _settle(client, model_name, champion_alias, mine)
    if ok and final != mine:
        ok, reason = False, f"{reason}; then superseded by version {final} (settled with a concurrent promotion)"
    return {
        "promoted": ok,
        "version": int(mine),
        "reason": reason,
        "previous_champion": int(champion.version) if champion else None,
        "champion": final,
    }


def _live_claims(client, model_name: str, *, since: float) -> list:
    """Versions of ``model_name`` claimed by a promotion after ``since`` (Unix time)."""
    found = client.search_model_versions(f"name = '{model_name}'")
    return [v for v in found if (_claim_time(v.tags) or 0.0) >= since]


def _settle(client, model_name: str, champion_alias: str, mine: str) -> str | None:
    """Move the alias to the version serial promotions would have chosen among the live claims; return it."""
    for _ in range(SETTLE_ROUNDS):
        time.sleep(random.uniform(0.05, 0.25))  # let a concurrent write land (correctness does not rely on it)
        current = _version_by_alias(client, model_name, champion_alias)
        since = time.time() - CLAIM_TTL_S
        if current is not None and current.tags.get("promoted_by_force") == "true":
            since = max(since, _claim_time(current.tags) or since)  # a force wins over claims made before it
        contenders = [
            (str(v.version), v.tags)
            for v in _live_claims(client, model_name, since=since)
            if current is None or str(v.version) != str(current.version)
        ]
        start = (str(current.version), current.tags) if current is not None else None
        best, reason = settle(start, contenders)
        if best is None or (current is not None and best == str(current.version)):
            return best
        log.warning(
            "promote: @%s is version %s but version %s is better (a concurrent promotion): moving it",
            champion_alias,
            current.version if current is not None else "none",
            best,
        )
        why = f"settled: {reason} (concurrent promotion; decided by the promotion of version {mine})"
        tags = {
            "promotion_reason": why,
            "promoted_at": _now(),
            "previous_champion": current.version if current else "none",
        }
        for key, value in tags.items():
            client.set_model_version_tag(model_name, best, key, str(value))
        client.set_registered_model_alias(model_name, champion_alias, best)
        if current is not None:
            client.set_model_version_tag(
                model_name, current.version, "promotion_superseded", f"{_now()}: version {best} is better ({reason})"
            )
    raise AvscError(
        f"{model_name}: @{champion_alias} still changing after {SETTLE_ROUNDS} rounds of concurrent promotions; "
        "run `avsc promote` again"
    )


def cli_register(args) -> int:
    register(load_params(args.params))
    return 0


def cli_promote(args) -> int:
    params = load_params(args.params)
    reg = params.register_
    if getattr(args, "system", None):
        params = params.model_copy(update={"model": params.model.model_copy(update={"system": args.system})})
    name = args.model_name or model_name(params)
    result = promote(
        model_name=name,
        challenger_alias=reg.alias,
        champion_alias=reg.champion_alias,
        version=getattr(args, "version", None),
        force=args.force,
    )
    if result["promoted"]:
        print(f"{name} version {result['version']} is now @{reg.champion_alias} ({result['reason']})")
    elif result.get("champion") not in (None, str(result["previous_champion"])):
        print(f"{name}: @{reg.champion_alias} is version {result['champion']} ({result['reason']})")
    else:
        print(f"{name}: @{reg.champion_alias} unchanged ({result['reason']})")
    return 0
