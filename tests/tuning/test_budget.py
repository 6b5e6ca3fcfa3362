"""The trial budget is exact across concurrent worker processes (real storage, trivial objective)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WORKER = textwrap.dedent(
    """
    import random, sys, time
    from pathlib import Path

    import optuna

    from avsc.tuning.retries import retry
    from avsc.tuning.storage import open_storage
    from avsc.tuning.worker import WorkerStats, work

    spec, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    handle = open_storage(spec, Path.cwd())
    study = retry(optuna.create_study, study_name=name, storage=handle.storage, load_if_exists=True)

    ask = study.ask

    def slow_ask(*args, **kwargs):  # a slow storage widens the count-then-ask window the lock must cover
        time.sleep(0.2)
        return ask(*args, **kwargs)

    study.ask = slow_ask

    def run_one(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(random.uniform(0.0, 0.3))
        study.tell(trial, x)
        return "COMPLETE"

    stats = work(study, handle, study_name=name, n_trials=n, timeout=None, sampler_seed=0, run_one=run_one,
                 stats=WorkerStats())
    print("mine", stats.mine["COMPLETE"])
    """
)


def _race(tmp_path: Path, spec: str, n: int) -> list[int]:
    """Two workers on one study with budget ``n``; returns how many trials each ran."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, spec, "race", str(n)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    mine = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        mine.append(int(out.split("mine")[-1]))
    return mine


def _check(study, mine: list[int], n: int) -> None:
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * n, states  # exactly n, none failed, none left running
    assert sum(mine) == n and min(mine) >= 1, mine  # both workers took part


def test_budget_exact_two_workers_journal(tmp_path):
    import optuna

    from avsc.tuning.storage import open_storage

    mine = _race(tmp_path, "journal:optuna.log", 12)
    _check(optuna.load_study(study_name="race", storage=open_storage("journal:optuna.log", tmp_path).storage), mine, 12)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_budget_exact_two_workers_postgres(tmp_path, postgres_url):
    import optuna

    from avsc.tuning.storage import normalize_rdb_url

    mine = _race(tmp_path, postgres_url, 12)
    _check(optuna.load_study(study_name="race", storage=normalize_rdb_url(postgres_url)), mine, 12)
