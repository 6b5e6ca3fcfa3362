"""Real ``avsc tune`` worker processes: SIGKILLed workers, and a worker whose wall clock is hours off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

# Runs ``avsc`` after pretending to be another machine: wall clock shifted by SKEW seconds,
# host name HOST, liveness constants NAME=VALUE (comma-separated) set, and, when HOLD names a file,
# each trial's training held until that file exists (the trial is RUNNING and its heartbeat beats
# meanwhile; at most 600 s).
WORKER = textwrap.dedent(
    """
    import socket, sys, time

    skew, host, constants, hold, *argv = sys.argv[1:]
    if float(skew):
        real_time = time.time
        time.time = lambda: real_time() + float(skew)
    if host:
        socket.gethostname = lambda: host

    from avsc.tuning import liveness

    for item in filter(None, constants.split(",")):
        name, value = item.split("=")
        setattr(liveness, name, type(getattr(liveness, name))(value))

    if hold:
        import os

        from avsc.tuning import objective

        real_train = objective.train

        def held_train(*args, **kwargs):
            deadline = time.monotonic() + 600
            while not os.path.exists(hold) and time.monotonic() < deadline:
                time.sleep(0.2)
            return real_train(*args, **kwargs)

        objective.train = held_train

    from avsc.cli import main

    sys.exit(main(argv))
    """
)


def _start(
    root: Path,
    log_path: Path,
    argv: list[str],
    *,
    skew: float = 0,
    host: str = "",
    constants: str = "",
    hold: Path | None = None,
):
    env = {**os.environ, "AVSC_ROOT": str(root), "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    hold_arg = str(hold) if hold else ""
    cmd = [sys.executable, "-c", WORKER, str(skew), host, constants, hold_arg, "tune", "--target", "visual", *argv]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, log_path: Path, timeout: float = 300) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"avsc tune did not finish:\n{log_path.read_text()[-3000:]}")
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{log_path.read_text()[-4000:]}"


def _load(root: Path, storage: str, name: str):
    import optuna

    from avsc.tuning.storage import open_storage

    try:
        return optuna.load_study(study_name=name, storage=open_storage(storage, root).storage)
    except KeyError:
        return None  # not created yet


def _wait_running(proc, log_path: Path, root: Path, storage: str, name: str, match, timeout: float = 180):
    """The first RUNNING trial (with parameters) for which ``match(trial)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        study = _load(root, storage, name)
        for t in study.get_trials(deepcopy=False) if study else []:
            if t.state.name == "RUNNING" and t.params and match(t):
                return t
        time.sleep(0.5)
    pytest.fail(f"no matching running trial:\n{log_path.read_text()[-3000:]}")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("backend", ["journal", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_killed_trial_is_retried_exactly_once(backend, tune_workspace, tmp_path, request):
    """kill -9 a worker during a trial, then the worker running its retry: the retry is not retried again."""
    storage = "journal:mlruns/optuna-journal.log"
    constants = ""
    if backend == "postgres":
        storage = request.getfixturevalue("postgres_url")
        constants = "RDB_HEARTBEAT_S=1,RDB_GRACE_S=3"  # Optuna's heartbeat, judged on the database's clock
    argv = ["--study-name", "once", "--n-trials", "2", "--max-epochs", "1", "--storage", storage]
    logs = [tmp_path / f"w{i}.log" for i in (1, 2, 3)]

    first = _start(tune_workspace, logs[0], argv, constants=constants)
    try:
        killed = _wait_running(first, logs[0], tune_workspace, storage, "once", lambda t: True)
    finally:
        _kill(first)
    second = _start(tune_workspace, logs[1], argv, constants=constants)
    try:
        retry = _wait_running(
            second,
            logs[1],
            tune_workspace,
            storage,
            "once",
            # its bookkeeping written too: the params are suggested a moment before the retry's user attr
            lambda t: t.system_attrs.get("failed_trial") == killed.number and "avsc_retry_of" in t.user_attrs,
        )
    finally:
        _kill(second)
    third = _start(tune_workspace, logs[2], argv, constants=constants)
    _finish(third, logs[2])

    study = _load(tune_workspace, storage, "once")
    states = {t.number: t.state.name for t in study.trials}
    assert states[killed.number] == "FAIL" and states[retry.number] == "FAIL", states
    assert retry.params == killed.params and retry.user_attrs["avsc_retry_of"] == killed.number
    copies = [t for t in study.trials if t.params == killed.params]
    assert [t.number for t in copies] == [killed.number, retry.number]  # retried once, not twice
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 2 and "WAITING" not in states.values() and "RUNNING" not in states.values(), states


@pytest.mark.slow
def test_worker_with_skewed_clock_is_not_failed(tune_workspace, tmp_path):
    """A worker whose wall clock is 6 h behind, on "another machine", keeps its trial while a second worker watches."""
    params = yaml.safe_load((tune_workspace / "params.yaml").read_text())
    params.setdefault("tune", {})["pruner"] = "none"
    (tune_workspace / "params.yaml").write_text(yaml.safe_dump(params))
    storage, grace = "journal:mlruns/optuna-journal.log", 4.0
    logs = [tmp_path / "far.log", tmp_path / "near.log"]
    release = tmp_path / "release"  # the far trial trains once the near worker has watched it for 3 grace periods
    argv = ["--study-name", "skew", "--n-trials", "1"]  # one trial: the near worker only waits and watches
    far = _start(
        tune_workspace,
        logs[0],
        [*argv, "--max-epochs", "2"],
        skew=-6 * 3600,
        host="far-away-host",
        constants="JOURNAL_HEARTBEAT_S=1",
        hold=release,
    )
    trial = _wait_running(far, logs[0], tune_workspace, storage, "skew", lambda t: True)
    near = _start(tune_workspace, logs[1], [*argv, "--max-epochs", "1"], constants=f"JOURNAL_GRACE_S={grace}")
    watching = done = None
    while far.poll() is None and done is None:  # when the near worker started watching, when the trial ended
        if watching is None and "study skew on" in logs[1].read_text():
            watching = time.monotonic()
        if (watching is not None and time.monotonic() - watching > 3 * grace + 2) or near.poll() is not None:
            release.touch()  # (a near worker that ended early fails the test below instead of hanging it)
        if _load(tune_workspace, storage, "skew").trials[trial.number].state.name != "RUNNING":
            done = time.monotonic()
        time.sleep(0.5)
    _finish(near, logs[1])
    _finish(far, logs[0])

    study = _load(tune_workspace, storage, "skew")
    assert [t.state.name for t in study.trials] == ["COMPLETE"], [t.user_attrs for t in study.trials]
    assert study.trials[0].user_attrs["avsc_host"] == "far-away-host"
    assert "marked FAIL" not in logs[1].read_text()
    # The near worker swept (every 2 s) for several grace periods while the far trial ran: with
    # heartbeats stamped by the far worker's wall clock it would have failed the trial at once.
    assert watching is not None and done is not None and done - watching > 3 * grace, (watching, done)
