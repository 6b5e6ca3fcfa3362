"""``avsc predict`` with the registered raw-media model, and its one-line errors on bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avsc.cli import main
from avsc.data.tau import CLASSES

URI = "models:/avsc-fused@challenger"


@pytest.fixture
def clip(trained_workspace, monkeypatch) -> tuple[Path, Path]:
    """(mp4, wav) of one synthetic evaluation clip; MLflow pointed at the trained store."""
    trained_workspace.use(monkeypatch)
    data = trained_workspace.root / "data" / "tau-synthetic"
    video = sorted((data / "video").glob("*.mp4"))[0]
    return video, data / "audio" / f"{video.stem}.wav"


def _check_json(out: str) -> dict:
    doc = json.loads(out)
    assert doc["top_scene"] in CLASSES
    assert len(doc["seconds"]) == 3
    assert [s["second"] for s in doc["seconds"]] == [0, 1, 2]
    assert sum(doc["clip"].values()) == pytest.approx(1.0, abs=1e-4)
    for second in doc["seconds"]:
        assert second["top_scene"] in CLASSES
        assert set(second["probabilities"]) == set(CLASSES)
        assert sum(second["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert second["top_scene"] == max(second["probabilities"], key=second["probabilities"].get)
    assert doc["top_scene"] == max(doc["clip"], key=doc["clip"].get)
    return doc


def test_predict_wav_and_mp4_json(clip, capsys):
    video, audio = clip
    assert main(["predict", "--video", str(video), "--audio", str(audio), "--model", URI, "--json"]) == 0
    _check_json(capsys.readouterr().out)


def test_predict_mp4_alone_uses_its_audio_track(clip, capsys):
    """The AAC track is a little longer than the WAV (encoder padding): still 3 whole seconds."""
    video, _ = clip
    assert main(["predict", "--video", str(video), "--model", URI, "--json"]) == 0
    _check_json(capsys.readouterr().out)


def test_predict_table(clip, capsys):
    video, audio = clip
    assert main(["predict", "--video", str(video), "--audio", str(audio), "--model", URI]) == 0
    out = capsys.readouterr().out
    assert "top scene:" in out
    assert sum(line.split()[0] in {"0", "1", "2"} for line in out.splitlines() if line.strip()) == 3


def _stereo(seconds: float, sr: int = 48000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((int(seconds * sr), 2))).astype(np.float64)


def _bad_inputs(tmp: Path, video: Path, audio: Path) -> dict[str, tuple[list[str], str]]:
    text = tmp / "notes.wav"
    text.write_text("this is not audio\n")
    sr441 = tmp / "rate.wav"
    sf.write(sr441, _stereo(3.0, 44100), 44100, subtype="PCM_24")
    mono = tmp / "mono.wav"
    sf.write(mono, _stereo(3.0)[:, 0], 48000, subtype="PCM_24")
    short = tmp / "short.wav"
    sf.write(short, _stereo(0.5), 48000, subtype="PCM_24")
    missing = tmp / "missing.wav"
    return {
        "missing audio": (["--video", str(video), "--audio", str(missing), "--model", URI], "not found"),
        "missing video": (["--video", str(tmp / "missing.mp4"), "--model", URI], "not found"),
        "text as wav": (["--video", str(video), "--audio", str(text), "--model", URI], "notes.wav"),
        "44.1 kHz": (["--video", str(video), "--audio", str(sr441), "--model", URI], "44100"),
        "mono": (["--video", str(video), "--audio", str(mono), "--model", URI], "channel"),
        "0.5 s": (["--video", str(video), "--audio", str(short), "--model", URI], "at least 1 s"),
        "unknown model": (
            ["--video", str(video), "--audio", str(audio), "--model", "models:/nope@champion"],
            "models:/nope@champion",
        ),
        "audio without video": (["--audio", str(audio), "--model", URI], "--video"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing audio",
        "missing video",
        "text as wav",
        "44.1 kHz",
        "mono",
        "0.5 s",
        "unknown model",
        "audio without video",
    ],
)
def test_predict_bad_input_is_one_line_exit_2(case, clip, tmp_path, capsys):
    video, audio = clip
    args, expected = _bad_inputs(tmp_path, video, audio)[case]
    code = main(["predict", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.startswith("avsc predict")]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert expected in lines[0]
