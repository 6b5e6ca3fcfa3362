"""Setting one params value keeps every other line of the file, comments included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from avsc.config.edit import set_param
from avsc.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("source", ["params.yaml", "profiles/paper.yaml"])
def test_only_the_key_line_changes(tmp_path, source) -> None:
    path = tmp_path / "params.yaml"
    shutil.copy(REPO / source, path)
    old_text = path.read_text()
    old = set_param(path, "data.root", "data/tau")
    assert old == yaml.safe_load(old_text)["data"]["root"]
    new_text = path.read_text()
    changed = [(a, b) for a, b in zip(old_text.splitlines(), new_text.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][1].split("#")[0].strip() == "root: data/tau"
    assert changed[0][0].split("#", 1)[1] == changed[0][1].split("#", 1)[1]  # the comment is kept
    assert yaml.safe_load(new_text)["data"]["root"] == "data/tau"


def test_a_new_key_and_a_bad_value(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("# top comment\nbase:\n  seed: 1  # seed\n")
    assert set_param(path, "data.root", "/abs/tau") is None
    assert path.read_text() == "# top comment\nbase:\n  seed: 1  # seed\ndata:\n  root: /abs/tau\n"
    before = path.read_text()
    with pytest.raises(ConfigError, match=r"invalid params: base.seed"):
        set_param(path, "base.seed", "not a number")
    assert path.read_text() == before  # nothing written when the result is invalid
    with pytest.raises(ConfigError, match="params file not found"):
        set_param(tmp_path / "none.yaml", "data.root", "x")
