"""Strict settings: params.yaml and the profiles load; typos and wrong types fail with the key named."""

from __future__ import annotations

import logging
import shutil

import pytest
import yaml

from avsc.config.profiles import load_profile
from avsc.config.settings import Params, load_params, parse_params
from avsc.errors import ConfigError


def _raw(repo_root):
    return yaml.safe_load((repo_root / "params.yaml").read_text())


def test_params_and_profiles_load(repo_root):
    params = load_params(repo_root / "params.yaml")
    assert isinstance(params, Params)
    default = load_params(repo_root / "profiles" / "default.yaml")
    assert default == params
    paper = load_params(repo_root / "profiles" / "paper.yaml")
    assert paper.base.profile == "paper"
    assert paper.features.visual.secrnn.image_size == paper.features.visual.dualstream.image_size == 224
    assert paper.features.visual.joint.image_size == 288 and paper.features.visual.joint.backbone == "efficientnetv2s"
    assert paper.train_audio.epochs == paper.train_visual.epochs == paper.train_fusion.epochs == 200
    assert paper.train_fusion.batch_size == paper.finetune.batch_size == 16
    assert paper.finetune.learning_rate == 1e-5 and paper.finetune.epochs == 2
    assert paper.train_audio.crops_per_clip == 1
    assert paper.data.synthetic == default.data.synthetic
    dual = load_params(repo_root / "profiles" / "paper-dualstream.yaml")
    assert dual.system == "dualstream" and dual.model.dualstream.finetune_backbone
    assert dual.train_fusion.optimizer == "adamw" and dual.train_fusion.learning_rate == 1e-4
    assert (
        dual.train_fusion.weight_decay == 0.1 and dual.train_fusion.epochs == 50 and dual.train_fusion.batch_size == 16
    )
    assert dual.visual_features.keep_frames and dual.finetune.epochs == 0
    joint = load_params(repo_root / "profiles" / "paper-joint.yaml")
    assert joint.system == "joint" and joint.model.joint.strategy == "joint"
    assert joint.audio_features.kind == "scalogram" and joint.visual_features.backbone == "efficientnetv2s"
    assert joint.train_fusion.optimizer == "sgd" and joint.train_fusion.schedule == "cosine_restarts"
    assert (joint.train_fusion.learning_rate, joint.train_fusion.min_learning_rate) == (1e-2, 1e-5)
    assert joint.train_fusion.batch_size == 256 and joint.train_fusion.epochs == 150
    for profile in (default, paper, dual, joint):  # every profile sizes every system's architecture alike
        assert profile.model.secrnn == paper.model.secrnn and profile.model.dualstream.embed_dim == 256


def test_system_switch_selects_the_front_ends(repo_root):
    raw = _raw(repo_root)
    raw["model"]["system"] = "dualstream"
    params = parse_params(raw)
    assert params.audio_features.hop_s == 0.1 and params.visual_features.backbone == "resnet50"
    assert params.visual_features.fps == 1
    raw["model"]["system"] = "joint"
    params = parse_params(raw)
    assert params.audio_features.sample_rate == 16000 and params.audio_features.n_bands == 256
    raw["model"]["system"] = "crnn"
    with pytest.raises(ConfigError, match=r"model\.system"):
        parse_params(raw)


def test_load_profile(repo_root, monkeypatch):
    monkeypatch.setenv("AVSC_ROOT", str(repo_root))
    assert load_profile("paper").base.profile == "paper"
    with pytest.raises(ConfigError, match="nosuch.yaml"):
        load_profile("nosuch")


def test_unknown_top_level_key(repo_root):
    raw = _raw(repo_root)
    raw["trian_audio"] = {"epochs": 1}
    with pytest.raises(ConfigError, match=r"trian_audio: unknown key"):
        parse_params(raw)


def test_unknown_nested_key(repo_root):
    raw = _raw(repo_root)
    raw["train_audio"]["learnig_rate"] = 0.1
    with pytest.raises(ConfigError, match=r"train_audio\.learnig_rate: unknown key"):
        parse_params(raw)


def test_wrong_type(repo_root):
    raw = _raw(repo_root)
    raw["train_visual"]["epochs"] = "many"
    with pytest.raises(ConfigError, match=r"train_visual\.epochs"):
        parse_params(raw)
    raw = _raw(repo_root)
    raw["features"]["visual"]["secrnn"]["image_size"] = [224]
    with pytest.raises(ConfigError, match=r"features\.visual\.secrnn\.image_size"):
        parse_params(raw)


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="params.yaml"):
        load_params(tmp_path / "params.yaml")


def test_profile_round_trip(repo_root, tmp_path, monkeypatch, caplog):
    from avsc.cli import main

    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(repo_root / "profiles", tmp_path / "profiles")
    monkeypatch.setenv("AVSC_ROOT", str(tmp_path))
    original = (tmp_path / "params.yaml").read_text()

    with caplog.at_level(logging.INFO):
        assert main(["profile", "paper"]) == 0
    assert load_params().base.profile == "paper"
    assert (tmp_path / "params.yaml").read_text() == (tmp_path / "profiles" / "paper.yaml").read_text()
    assert "dvc repro" in caplog.text and "features.visual.secrnn.image_size" in caplog.text

    assert main(["profile", "default"]) == 0
    assert (tmp_path / "params.yaml").read_text() == original
    assert load_params().base.profile == "default"

    assert main(["profile", "nosuch"]) == 2
    assert (tmp_path / "params.yaml").read_text() == original
