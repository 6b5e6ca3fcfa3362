"""One source of the synthetic generator's defaults and bounds: settings.SyntheticSection."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from avsc.cli import build_parser, main
from avsc.config.settings import BaseSection, SyntheticSection, load_params, synthetic_settings
from avsc.data.synthetic import SynthConfig
from avsc.data.tau import CITIES
from avsc.errors import ConfigError


def test_synth_config_defaults_come_from_settings(tmp_path: Path) -> None:
    config = asdict(SynthConfig(out=tmp_path))
    assert config.pop("out") == tmp_path
    assert config.pop("seed") == BaseSection().seed
    assert config == SyntheticSection().model_dump()


def test_params_files_agree_with_the_defaults(repo_root: Path) -> None:
    """params.yaml lists data.synthetic (the synth stage's DVC params) with the settings' own defaults."""
    for path in (repo_root / "params.yaml", *sorted((repo_root / "profiles").glob("*.yaml"))):
        assert load_params(path).data.synthetic == SyntheticSection(), path


def test_cli_defaults_are_the_settings_defaults() -> None:
    synth = SyntheticSection()
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["synth"]
    helps = {a.dest: a.help for a in sub._actions}
    assert f"default {synth.clips_per_class})" in helps["clips_per_class"]
    assert f"default {synth.duration_s:g})" in helps["duration"]
    assert f"default {synth.cities})" in helps["cities"]
    assert f"default {synth.video_width}x{synth.video_height})" in helps["video_size"]
    assert f"default {synth.video_fps})" in helps["video_fps"]
    assert sub.get_default("seed") == BaseSection().seed


@pytest.mark.parametrize(
    "values, message",
    [
        ({"clips_per_class": 1}, "clips_per_class must be greater than or equal to 2 (got 1)"),
        ({"duration_s": 0.5}, "duration_s must be greater than or equal to 1 (got 0.5)"),
        ({"cities": 0}, "cities must be greater than or equal to 1 (got 0)"),
        ({"cities": len(CITIES) + 1}, f"cities must be less than or equal to {len(CITIES)} (got {len(CITIES) + 1})"),
        ({"video_width": 33}, "video_width must be a multiple of 2 (got 33)"),
        ({"video_height": 8}, "video_height must be greater than or equal to 16 (got 8)"),
        ({"video_fps": 0}, "video_fps must be greater than or equal to 1 (got 0)"),
    ],
)
def test_bounds_are_checked_once_for_every_caller(tmp_path: Path, values: dict, message: str) -> None:
    for make in (lambda: synthetic_settings(**values), lambda: SynthConfig(out=tmp_path, **values)):
        with pytest.raises(ConfigError) as err:
            make()
        assert str(err.value) == f"synthetic dataset: {message}"


def test_bounds_accept_the_edges(tmp_path: Path) -> None:
    config = SynthConfig(out=tmp_path, clips_per_class=2, duration_s=1.0, cities=len(CITIES), video_width=16)
    assert (config.cities, config.duration_s, config.video_width) == (len(CITIES), 1.0, 16)


def test_several_bad_values_in_one_line(tmp_path: Path, capsys) -> None:
    code = main(["synth", "--out", str(tmp_path / "x"), "--cities", "0", "--video-size", "15x17", "--duration", "0"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for key in ("duration_s", "cities", "video_width", "video_height"):
        assert key in err[0]
    assert not (tmp_path / "x").exists()
