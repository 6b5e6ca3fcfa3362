"""``avsc server start|status|stop`` for real: PostgreSQL + mlflow server, a workload through it, clean stops."""

from __future__ import annotations

import base64
import json
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _processes_of(state: dict) -> list[psutil.Process]:
    """PostgreSQL's postmaster and every process of the MLflow server's group that still runs."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == state["postgres_pid"] or os.getpgid(proc.pid) == state["mlflow_pid"]:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except (psutil.Error, ProcessLookupError):
            continue
    return found


def _workload(server, monkeypatch) -> None:
    """Experiment, run with params/metrics/artifact, a registered version @champion loaded back."""
    import mlflow
    import pandas as pd

    from avsc.tracking.service import configure

    server.use(monkeypatch)
    assert configure() == server.tracking_uri
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("team-workload")
    assert client.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/{exp_id}"

    class Triple(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input * 3

    with tempfile.TemporaryDirectory() as tmp:
        note = Path(tmp) / "note.txt"
        note.write_text("proxied through the server")
        with mlflow.start_run(experiment_id=exp_id, run_name="workload") as run:
            mlflow.log_params({"lr": 0.01, "gru": 64})
            for step, value in enumerate([0.9, 0.7, 0.4]):
                mlflow.log_metric("val/loss", value, step=step)
            mlflow.log_artifact(str(note), artifact_path="notes")
            info = mlflow.pyfunc.log_model(name="model", python_model=Triple())
    version = mlflow.register_model(info.model_uri, "team-model")
    client.set_registered_model_alias("team-model", "champion", version.version)

    got = client.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.01", "gru": "64"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "val/loss")] == [0.9, 0.7, 0.4]
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run.info.run_id}/artifacts"
    on_disk = server.artifacts / exp_id / run.info.run_id / "artifacts" / "notes" / "note.txt"
    assert on_disk.read_text() == "proxied through the server"
    model_dir = server.artifacts / exp_id / "models" / info.model_id / "artifacts"
    assert (model_dir / "MLmodel").is_file()
    champion = mlflow.pyfunc.load_model("models:/team-model@champion")
    assert champion.predict(pd.DataFrame({"x": [1.0, 2.0]}))["x"].tolist() == [3.0, 6.0]


def test_start_status_workload_restart_stop(fresh_server_base, monkeypatch, tools):
    avsc, free_port, start_server, stop_server = tools.avsc, tools.free_port, tools.start_server, tools.stop_server
    folder = fresh_server_base / "srv"
    pg_port = free_port()
    server = start_server(folder, "--pg-port", str(pg_port))
    state = server.state
    lines = server.stdout.splitlines()
    assert f"export MLFLOW_TRACKING_URI={state['tracking_uri']}" in lines
    assert f"export PGPASSFILE={folder / 'pgpass'}" in lines
    assert any(line.startswith(f"optuna storage: postgresql://avsc@127.0.0.1:{pg_port}/optuna") for line in lines)
    assert state["tracking_uri"] == f"http://127.0.0.1:{state['port']}" and state["pg_port"] == pg_port
    assert (folder / "mlflow.pid").read_text().strip() == str(state["mlflow_pid"])
    assert (folder / "postgres" / "data" / "postmaster.pid").is_file()
    assert oct((folder / "pgpass").stat().st_mode & 0o777) == "0o600"

    status = avsc("server", "status", "--dir", str(folder), "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    info = json.loads(status.stdout)
    assert info["running"] and info["mlflow"]["healthy"]
    assert (info["postgres"]["pid"], info["mlflow"]["pid"]) == (state["postgres_pid"], state["mlflow_pid"])

    again = avsc("server", "start", "--dir", str(folder), "--port", str(state["port"]))
    assert again.returncode == 0 and len(again.stdout.strip().splitlines()) == 1
    assert "already running" in again.stdout and "nothing to do" in again.stdout
    assert json.loads((folder / "server.json").read_text())["mlflow_pid"] == state["mlflow_pid"]

    _workload(server, monkeypatch)

    stopped = stop_server(folder)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == [
        f"avsc server: MLflow server (pid {state['mlflow_pid']}): stopped",
        f"avsc server: PostgreSQL (pid {state['postgres_pid']}): stopped",
    ]
    assert _processes_of(state) == []
    status = avsc("server", "status", "--dir", str(folder))
    assert status.returncode == 1 and "not running" in status.stdout

    # the data survive a restart (same cluster, same password file)
    server = start_server(folder, "--pg-port", str(pg_port))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.tracking_uri)
    import mlflow

    from avsc.tracking.service import configure

    configure()
    version = mlflow.MlflowClient().get_model_version_by_alias("team-model", "champion")
    assert version.version == "1"
    assert stop_server(folder).returncode == 0


def test_port_in_use_and_failed_start_leave_nothing_behind(fresh_server_base, tools):
    avsc, free_port = tools.avsc, tools.free_port
    folder = fresh_server_base / "busy"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = avsc("server", "start", "--dir", str(folder), "--port", str(port), "--pg-port", str(free_port()))
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            f"avsc server: error: port {port} on 127.0.0.1 is in use or not available (Address already in use); "
            "choose another --port"
        ]
        proc = avsc("server", "start", "--dir", str(folder), "--port", str(free_port()), "--pg-port", str(port))
        assert proc.returncode == 2 and "choose another --pg-port" in proc.stderr
    assert not folder.exists()

    # PostgreSQL starts, then the MLflow server is not up in time: both are stopped, the new cluster removed
    before = {p.pid for p in psutil.process_iter()}
    proc = avsc(
        "server",
        "start",
        "--dir",
        str(folder),
        "--port",
        str(free_port()),
        "--pg-port",
        str(free_port()),
        "--timeout",
        "0.5",
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "did not answer" in errors[0] and "within 0.5 s" in errors[0]
    assert not folder.exists()
    leftovers = []
    for p in psutil.process_iter():
        try:
            if p.pid not in before and any(w in " ".join(p.cmdline()) for w in ("postgres", "uvicorn", "mlflow")):
                leftovers.append(p.cmdline())
        except psutil.Error:
            continue
    assert leftovers == []


def _get(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_auth_from_a_credentials_file_never_shows_the_password(fresh_server_base, tmp_path, tools):
    avsc, free_port, start_server, stop_server = tools.avsc, tools.free_port, tools.start_server, tools.stop_server
    folder = fresh_server_base / "auth"
    password = "pw-" + os.urandom(12).hex()
    creds = tmp_path / "admin.cred"
    creds.write_text(f"username=teamadmin\npassword={password}\n")
    os.chmod(creds, 0o600)
    server = start_server(folder, "--pg-port", str(free_port()), "--auth", "--credentials", str(creds))
    assert "export MLFLOW_TRACKING_USERNAME=teamadmin" in server.stdout.splitlines()
    search = f"{server.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=5"
    assert _get(f"{server.tracking_uri}/health") == 200
    assert _get(search) == 401
    assert _get(search, ("teamadmin", "wrong-password-123")) == 401
    assert _get(search, ("teamadmin", password)) == 200

    secret = password.encode()
    assert password not in server.stdout
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    for proc in psutil.process_iter():
        try:
            assert password not in " ".join(proc.cmdline())
        except psutil.Error:
            continue

    # the admin exists now: a restart needs no password
    assert stop_server(folder).returncode == 0
    again = avsc(
        "server", "start", "--dir", str(folder), "--port", str(free_port()), "--pg-port", str(free_port()), "--auth"
    )
    assert again.returncode == 0, again.stderr
    state = json.loads((folder / "server.json").read_text())
    assert (
        _get(f"{state['tracking_uri']}/api/2.0/mlflow/experiments/search?max_results=5", ("teamadmin", password)) == 200
    )
    assert stop_server(folder).returncode == 0
