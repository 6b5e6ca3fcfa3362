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
    assert paper.features.visual.image_size == 224
    assert paper.train_audio.epochs == paper.train_visual.epochs == paper.train_fusion.epochs == 200
    assert paper.train_fusion.batch_size == paper.finetune.batch_size == 16
    assert paper.finetune.learning_rate == 1e-5 and paper.finetune.epochs == 2
    assert paper.train_audio.crops_per_clip == 1
    assert paper.data.synthetic == default.data.synthetic


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
    raw["features"]["visual"]["image_size"] = [224]
    with pytest.raises(ConfigError, match=r"features\.visual\.image_size"):
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
    assert "dvc repro" in caplog.text and "features.visual.image_size" in caplog.text

    assert main(["profile", "default"]) == 0
    assert (tmp_path / "params.yaml").read_text() == original
    assert load_params().base.profile == "default"

    assert main(["profile", "nosuch"]) == 2
    assert (tmp_path / "params.yaml").read_text() == original
