"""The feature store: it only ever deletes or writes into a folder that is a feature store it wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avsc.errors import DataError
from avsc.features.store import MARKER, FeatureStore


def test_refuses_to_delete_a_folder_it_did_not_write(tmp_path):
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    (folder / "a-clip.wav").write_bytes(b"RIFF....WAVE")
    (folder / "sub" / "b.wav").write_bytes(b"RIFF")
    with pytest.raises(DataError) as err:
        FeatureStore(folder).begin({"kind": "gammatone"})
    message = str(err.value)
    assert str(folder) in message and MARKER in message and "\n" not in message
    assert (folder / "a-clip.wav").read_bytes() == b"RIFF....WAVE"
    assert (folder / "sub" / "b.wav").read_bytes() == b"RIFF"
    assert sorted(p.name for p in folder.iterdir()) == ["a-clip.wav", "sub"]


def test_refuses_a_foreign_folder_even_with_a_matching_state_file(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    store = FeatureStore(folder)
    state = {"kind": "gammatone"}
    (folder / "state.json").write_text(json.dumps({"fingerprint": "x", "state": state}))
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DataError):
        store.begin(state)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_new_store_is_marked_and_restarts_on_other_settings(tmp_path):
    folder = tmp_path / "features" / "audio"
    store = FeatureStore(folder)
    first = store.begin({"kind": "gammatone"})
    assert (folder / MARKER).is_file()
    store.save("c1", np.ones((2, 3), np.float32))
    assert store.begin({"kind": "gammatone"}) == first  # same settings: resumes
    assert store.has("c1")
    second = store.begin({"kind": "logmel"})  # other settings: its own folder, so it may start afresh
    assert second != first
    assert not store.has("c1") and (folder / MARKER).is_file()


def test_an_empty_folder_becomes_a_store(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    FeatureStore(folder).begin({"kind": "gammatone"})
    assert (folder / MARKER).is_file()


def test_a_store_written_before_markers_existed_is_adopted(tmp_path):
    folder = tmp_path / "audio"
    store = FeatureStore(folder)
    state = {"kind": "gammatone"}
    store.begin(state)
    store.save("c1", np.ones((2, 3), np.float32))
    store.finish({"n_clips": 1})
    (folder / "stats.npz").write_bytes(b"")
    (folder / MARKER).unlink()  # a folder from an older avsc: only files a feature store writes
    store.begin(state)
    assert store.has("c1") and (folder / MARKER).is_file()
