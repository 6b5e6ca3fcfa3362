"""A real ``mlflow models serve`` of the registered model: a client sends a clip's bytes over HTTP.

The server runs with ``--env-manager local`` on 127.0.0.1, without the repository's ``src`` in
``PYTHONPATH`` and outside the repository (the pyfunc brings its own code through ``code_paths``).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from avsc.data.tau import CLASSES

pytestmark = pytest.mark.slow

URI = "models:/avsc-fused@challenger"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"mlflow models serve exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"mlflow models serve not ready after {timeout_s:g} s: {log.read_text()[-2000:]}")


@pytest.fixture
def served(trained_workspace, tmp_path):
    """The trained workspace's registered model served on 127.0.0.1, the dataset folder as allowed root."""
    data = trained_workspace.root / "data" / "tau-synthetic"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AVSC_ROOT")}
    env |= {
        "MLFLOW_TRACKING_URI": trained_workspace.tracking_uri,
        "MLFLOW_REGISTRY_URI": trained_workspace.tracking_uri,  # mlflow.set_registry_uri() exports it in-process
        "AVSC_SERVE_ALLOWED_ROOT": str(data),
        "AVSC_SERVE_MAX_CLIPS": "2",
        "PYTHONSAFEPATH": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # MLflow execs uvicorn
    }
    log = tmp_path / "serve.log"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_cli), "models", "serve", "-m", URI, "--env-manager", "local", "-h", "127.0.0.1"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "-p", str(port), "-w", "1"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the uvicorn worker is stopped with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url, data
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _probabilities(body: dict) -> np.ndarray:
    rows = body["predictions"]
    return np.array([[row[c] for c in CLASSES] for row in rows])


def test_bytes_over_http_match_file_paths_and_paths_outside_the_root_are_refused(served, tmp_path):
    url, data = served
    video = sorted((data / "video").glob("*.mp4"))[0]
    audio = data / "audio" / f"{video.stem}.wav"

    b64 = {
        "video_b64": base64.b64encode(video.read_bytes()).decode(),
        "audio_b64": base64.b64encode(audio.read_bytes()).decode(),
        "clip": video.stem,
    }
    status, by_bytes = _post(f"{url}/invocations", {"dataframe_records": [b64]})
    assert status == 200, by_bytes
    status, by_path = _post(
        f"{url}/invocations", {"dataframe_records": [{"video": str(video), "audio": str(audio), "clip": video.stem}]}
    )
    assert status == 200, by_path
    segments = [row["segment"] for row in by_bytes["predictions"]]
    assert segments == [0, 1, 2, -1]  # a 3-s clip: one row per second, then the clip
    np.testing.assert_allclose(_probabilities(by_bytes), _probabilities(by_path), rtol=1e-5, atol=1e-6)

    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(video.read_bytes())
    status, body = _post(f"{url}/invocations", {"dataframe_records": [{"video": str(outside)}]})
    assert 400 <= status < 500
    assert f"{outside}: outside the allowed root" in body["message"]
    assert "Traceback" not in json.dumps(body)

    status, body = _post(f"{url}/invocations", {"dataframe_records": [b64, b64, b64]})
    assert 400 <= status < 500
    assert "3 clips, over the limit of 2 clips per request (AVSC_SERVE_MAX_CLIPS)" in body["message"]


def test_the_registered_model_runs_without_the_repository_on_the_path(trained_workspace, tmp_path):
    """``python -S``: no site-packages ``.pth`` files, so not the editable install's ``src`` either."""
    import sysconfig

    clip = next((trained_workspace.root / "data" / "tau-synthetic" / "video").glob("*.mp4"))
    script = "\n".join(
        [
            "import sys",
            f"sys.path.append({sysconfig.get_paths()['purelib']!r})",
            "import mlflow, pandas as pd",
            f"model = mlflow.pyfunc.load_model({URI!r})",
            "import avsc",
            "print('AVSC_FILE', avsc.__file__)",
            f"out = model.predict(pd.DataFrame([{{'video': {str(clip)!r}}}]))",
            "print('ROWS', len(out), 'CLIP_ROW', int((out['segment'] == -1).sum()))",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AVSC_ROOT")}
    env |= {
        "MLFLOW_TRACKING_URI": trained_workspace.tracking_uri,
        "MLFLOW_REGISTRY_URI": trained_workspace.tracking_uri,
    }
    proc = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("AVSC_FILE", "ROWS")))
    repo_src = str(Path(__file__).resolve().parents[2] / "src")
    assert not lines["AVSC_FILE"].startswith(repo_src), lines  # the model's own copy (code_paths)
    assert "/code/avsc/" in lines["AVSC_FILE"]
    assert lines["ROWS"].endswith("CLIP_ROW 1")
