"""Every system through the same stages: features, the four training stages, evaluate, register,
promote and the registered raw-media model, on the tiny synthetic sample.

The registered model's probabilities for an evaluate clip must equal that clip's rows of
predictions.csv: serving and evaluation share one feature path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsc.data.tau import CLASSES

pytestmark = pytest.mark.slow

VARIANTS = {
    "dualstream": {"model": {"system": "dualstream"}},
    "joint-pipeline": {"model": {"system": "joint", "joint": {"strategy": "pipeline"}}},
    "joint-joint": {"model": {"system": "joint", "joint": {"strategy": "joint"}}},
}

#: Test-size systems (every variant): the same layers, stages and heads as the paper-size defaults, but
#: a few units per layer, 32 audio bands, 3 training steps per epoch and the backbone family with the
#: fewest layers (VGG16: ResNet50's 175 layers cost far more to build, trace, save and load than they
#: compute at 32 px), so that the whole module stays within a couple of minutes on 2 cores.
TINY_SYSTEMS = {
    "features": {
        "audio": {"dualstream": {"n_bands": 32}, "joint": {"n_mels": 32}},
        "visual": {"dualstream": {"backbone": "vgg16"}, "joint": {"backbone": "vgg16"}},
    },
    "model": {
        "dualstream": {
            "audio_dim": 16,  # != n_bands: the audio projection layer is still built
            "audio_heads": 2,
            "audio_key_dim": 8,
            "audio_ff_dim": 16,
            "conv_filters": [8, 8, 8],
            "embed_dim": 16,
            "fusion_heads": 2,
            "fusion_key_dim": 8,
            "fusion_ff_dim": 16,
            "fc_units": 16,
        },
        "joint": {"encoder_units": [32, 16], "classifier_units": 16},
    },
    **{stage: {"steps_per_epoch": 3} for stage in ("train_audio", "train_visual", "train_fusion", "finetune")},
}

#: Variants whose feature stages are another variant's (same ``features`` settings): their feature folder
#: is copied instead of computed again.
SAME_FEATURES = {"joint-joint": "joint-pipeline"}


def merge(into: dict, overrides: dict) -> dict:
    """``overrides`` merged into ``into`` key by key (nested sections too); returns ``into``."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, synthetic_dataset, workspace_maker) -> Path:
    """A workspace after prepare and validate (shared by the systems)."""
    from avsc.config.settings import load_params
    from avsc.data.manifest import prepare
    from avsc.data.validation.entry import main_for_stage

    root = workspace_maker(tmp_path_factory.mktemp("systems") / "base", synthetic_dataset)
    params = load_params(root / "params.yaml")
    prepare(params, root)
    main_for_stage(params, root)
    return root


def _pipeline(base: Path, target: Path, overrides: dict, store: Path, *, features_from: Path | None = None) -> dict:
    import yaml

    from avsc.config.settings import load_params
    from avsc.evaluation.stage import evaluate
    from avsc.features.audio_stage import run_audio_stage
    from avsc.features.visual_stage import run_visual_stage
    from avsc.tracking.registry import register
    from avsc.training.stages import run_training_stage

    shutil.copytree(base, target)
    raw = merge(merge(yaml.safe_load((target / "params.yaml").read_text()), TINY_SYSTEMS), overrides)
    (target / "params.yaml").write_text(yaml.safe_dump(raw))
    os.environ.update(
        {
            "AVSC_ROOT": str(target),
            "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db",
            "AVSC_MLFLOW_ARTIFACTS": str(store / "artifacts"),
            "AVSC_PIPELINE_RUN": target.name,
        }
    )
    params = load_params(target / "params.yaml")
    if features_from is None:
        run_audio_stage(params, target)
        run_visual_stage(params, target)
    else:
        assert load_params(features_from / "params.yaml").features == params.features
        shutil.copytree(features_from / params.base.features_dir, target / params.base.features_dir, dirs_exist_ok=True)
    summaries = {step: run_training_stage(params, target, step) for step in ("audio", "visual", "fusion", "finetune")}
    doc = evaluate(params, target)
    return {"params": params, "summaries": summaries, "metrics": doc, "register": register(params, target)}


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    store = tmp_path_factory.mktemp("systems-store")
    saved = {
        k: os.environ.get(k) for k in ("AVSC_ROOT", "MLFLOW_TRACKING_URI", "AVSC_MLFLOW_ARTIFACTS", "AVSC_PIPELINE_RUN")
    }
    try:
        runs = {}
        for name, over in VARIANTS.items():
            shared = prepared.parent / SAME_FEATURES[name] if name in SAME_FEATURES else None
            runs[name] = _pipeline(prepared, prepared.parent / name, over, store, features_from=shared)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return store, runs


def version_uri(registered: dict) -> str:
    """``models:/NAME/N`` of a variant's own version: both joint variants register under avsc-joint, so
    ``@challenger`` names the last one registered."""
    return f"models:/{registered['model_name']}/{registered['version']}"


def _use(monkeypatch, store: Path, root: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}/mlflow.db")
    monkeypatch.setenv("AVSC_MLFLOW_ARTIFACTS", str(store / "artifacts"))
    monkeypatch.setenv("AVSC_ROOT", str(root))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_stage_ran_and_evaluation_scored_every_head(trained, variant):
    _, runs = trained
    run = runs[variant]
    system = run["params"].system
    assert all(s["epochs_run"] >= 1 for name, s in run["summaries"].items() if name != "finetune")
    doc = run["metrics"]
    assert doc["system"] == system and doc["final_head"] == "fused"
    assert set(doc["heads"]) == {"audio", "visual", "fused"}
    assert doc["n_segments"] == doc["n_clips"] * 3
    for head in doc["heads"].values():
        assert 0.0 <= head["accuracy"] <= 1.0 and head["logloss"] > 0
    assert run["register"]["model_name"] == f"avsc-{system}"


def test_joint_strategy_switch_changes_what_trained(trained, prepared):
    """Pipeline trains only the scene classifier on frozen embeddings; joint also trains the acoustic encoder."""
    from avsc.models.joint import AE, SC
    from avsc.models.saving import load_keras_model

    trainable = {}
    for variant in ("joint-pipeline", "joint-joint"):
        model = load_keras_model(prepared.parent / variant / "models" / "train_fusion" / "model.keras")
        trainable[variant] = {
            AE: len(model.get_layer(AE).trainable_weights),
            SC: len(model.get_layer(SC).trainable_weights),
        }
        assert trainable[variant][SC] > 0
    assert trainable["joint-pipeline"][AE] == 0 and trainable["joint-joint"][AE] > 0
    names = [
        layer.name
        for layer in load_keras_model(
            prepared.parent / "joint-joint" / "models" / "train_fusion" / "model.keras"
        ).layers
    ]
    assert "visual_encoder" in names  # raw images through the frozen visual encoder


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_registered_model_equals_the_evaluate_predictions(trained, prepared, variant, monkeypatch):
    """One feature path: the pyfunc on an evaluate clip's media gives that clip's predictions.csv rows."""
    from avsc.predict import load_model

    store, runs = trained
    root = prepared.parent / variant
    _use(monkeypatch, store, root)
    predictions = pd.read_csv(root / "reports" / "evaluate" / "predictions.csv", sep="\t")
    filename = predictions["filename"].iloc[0]
    rows = predictions[predictions["filename"] == filename].sort_values("segment")
    data = root / "data" / "tau-synthetic"
    video = data / "video" / f"{Path(filename).stem}.mp4"
    model = load_model(version_uri(runs[variant]["register"]))
    out = model.predict(pd.DataFrame([{"video": str(video), "audio": str(data / filename)}]))
    seconds = out[out["segment"] >= 0].sort_values("segment")
    np.testing.assert_allclose(seconds[list(CLASSES)].to_numpy(), rows[list(CLASSES)].to_numpy(), atol=1e-4)
    assert list(seconds["scene_label"]) == list(rows["scene_label"])


def test_promotion_compares_like_with_like(trained, prepared, monkeypatch):
    from avsc.tracking.registry import promote

    store, runs = trained
    _use(monkeypatch, store, prepared.parent / "dualstream")
    first = promote(model_name="avsc-dualstream", lock_dir=store)
    assert first["promoted"] and "no champion" in first["reason"]
    import mlflow

    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias("avsc-dualstream", "champion").tags["system"] == "dualstream"
    joint = promote(model_name="avsc-joint", lock_dir=store)
    assert joint["promoted"]
    assert client.get_model_version_by_alias("avsc-joint", "champion").tags["system"] == "joint"
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias("avsc-fused", "champion")  # no SE-CRNN was touched


def test_systems_report_lists_the_systems_trained(trained, prepared, tmp_path, monkeypatch):
    import mlflow

    from avsc.evaluation.systems_report import collect, write_report

    store, _ = trained
    _use(monkeypatch, store, prepared)
    from avsc.tracking.service import ensure_experiment

    results = collect(mlflow.MlflowClient(), ensure_experiment("avsc"))
    assert set(results) == {"dualstream", "joint"}  # the SE-CRNN was not trained in this store
    text = (write_report(results, tmp_path)).read_text()
    assert "**dualstream** (this project) | synthetic" in text and "Dual-stream CNN (OpenL3 + ResNet50)" in text
    assert all(results[s].seconds_per_epoch for s in results)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_submission_package_for_every_system(trained, prepared, variant, monkeypatch, tmp_path):
    """``avsc submission`` runs any system's registered model; complexity and results come from it."""
    import yaml

    from avsc.data.synthetic import EvaluationSetConfig, synthesize_evaluation_set
    from avsc.submission.meta import AUTHORS_TEMPLATE
    from avsc.submission.run import make_submission

    store, runs = trained
    _use(monkeypatch, store, prepared.parent / variant)
    eval_dir = synthesize_evaluation_set(
        EvaluationSetConfig(out=tmp_path / "eval", clips=4, seed=3, video_width=64, video_height=48, video_fps=10),
        workers=1,
    )
    authors = tmp_path / "submission.yaml"
    authors.write_text(AUTHORS_TEMPLATE)
    result = make_submission(
        eval_dir=eval_dir,
        label="Doe_EXU_task1b_3",
        out_dir=tmp_path / "out",
        model_uri=version_uri(runs[variant]["register"]),
        authors=authors,
    )
    frame = pd.read_csv(result.output, sep="\t")
    assert list(frame["filename"]) == ["0.wav", "1.wav", "2.wav", "3.wav"]
    np.testing.assert_allclose(frame[list(CLASSES)].sum(axis=1), 1.0, atol=1e-5)
    meta = yaml.safe_load(result.meta.read_text())
    complexity = meta["system"]["complexity"]
    assert complexity["total_parameters_audio"] > 0 and complexity["total_parameters_visual"] > 0
    assert (
        complexity["total_parameters"] >= complexity["total_parameters_audio"] + complexity["total_parameters_visual"]
    )
    overall = meta["results"]["development_dataset"]["overall"]
    assert overall["logloss"] == pytest.approx(runs[variant]["metrics"]["logloss"], abs=1e-5)
