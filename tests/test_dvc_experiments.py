"""DVC owns the data: queued and temporary experiments, and a remote a team shares (real DVC, real files).

One throw-away git + DVC repository with tiny settings is built once: its stages run one after the
other in a single Python process (one TensorFlow import instead of one per stage) and ``dvc commit``
records them in ``dvc.lock``, DVC's own way to adopt outputs made outside ``dvc repro``. The tests
then queue experiments, run one in a temporary workspace, push to a local-folder remote and pull
into a fresh clone. MLflow is left to find its store the way it does for users (``DVC_ROOT``), so the
runs of queued experiments must land in the project's own ``mlruns/``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
TINY = {
    "data": {
        "synthetic": {
            "clips_per_class": 4,
            "duration_s": 2.0,
            "cities": 3,
            "video_width": 32,
            "video_height": 24,
            "video_fps": 5,
        }
    },
    "validate": {"duration_s": 2.0},
    "features": {"visual": {s: {"image_size": 32} for s in ("secrnn", "dualstream", "joint")}},
    **{
        stage: {"epochs": 1, "batch_size": 16, "crops_per_clip": 1}
        for stage in ("train_audio", "train_visual", "train_fusion")
    },
    "finetune": {"epochs": 0, "batch_size": 16, "crops_per_clip": 1},  # 0: assemble the all-heads model only
}

# Runs every stage of dvc.yaml (file order is the DAG order) as DVC would, in this one process.
RUN_STAGES = textwrap.dedent(
    """
    import runpy, shlex, sys, time

    import yaml

    sys.path.insert(0, "pipelines")  # as `python pipelines/<stage>.py` has it
    for name, stage in yaml.safe_load(open("dvc.yaml"))["stages"].items():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "python" and len(argv) == 2, f"stage {name}: unexpected cmd {stage['cmd']!r}"
        start = time.monotonic()
        sys.argv = argv[1:]
        runpy.run_path(argv[1], run_name="__main__")
        print(f"stage {name}: {time.monotonic() - start:.1f} s", flush=True)
    """
)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


class Repo:
    def __init__(self, root: Path, env: dict) -> None:
        self.root, self.env = root, env

    def run(
        self, *cmd: str, check: bool = True, cwd: Path | None = None, timeout: int = 900, env: dict | None = None
    ) -> str:
        proc = subprocess.run(
            list(cmd), cwd=cwd or self.root, env=env or self.env, capture_output=True, text=True, timeout=timeout
        )
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}")
        return out

    def dvc(self, *args: str, **kw) -> str:
        return self.run(str(BIN / "dvc"), *args, **kw)

    def git(self, *args: str, **kw) -> str:
        return self.run("git", *args, **kw)

    def runs(self, store: Path | None = None) -> list:
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store or self.root / 'mlruns' / 'mlflow.db'}")
        exp = client.get_experiment_by_name("avsc")
        return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    if not (BIN / "dvc").exists():
        pytest.skip(f"{BIN / 'dvc'} not installed")
    root = tmp_path_factory.mktemp("dvcexp") / "repo"
    root.mkdir()
    shutil.copytree(REPO / "pipelines", root / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    params = _merge(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text("/mlruns/\n__pycache__/\n/checkpoints/\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AVSC_ROOT", "AVSC_PIPELINE_RUN", "MLFLOW_TRACKING_URI", "AVSC_MLFLOW_ARTIFACTS")
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "DVC_NO_ANALYTICS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
        }
    )
    r = Repo(root, env)
    r.git("init", "-q")
    r.dvc("init", "-q")
    r.run(sys.executable, "-c", RUN_STAGES, env={**env, "DVC_ROOT": str(root), "AVSC_PIPELINE_RUN": "setup"})
    r.dvc("commit", "-f")  # dvc.lock for outputs made outside `dvc repro`
    assert "Data and pipelines are up to date." in r.dvc("status")
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "pipeline")
    return r


def _exp_rows(repo: Repo) -> dict[str, dict[str, str]]:
    text = repo.dvc("exp", "show", "--csv")
    return {row["Experiment"]: row for row in csv.DictReader(io.StringIO(text)) if row["Experiment"]}


def _cell(row: dict[str, str], file: str, key: str) -> str:
    """A column of ``dvc exp show --csv``: DVC drops the ``file:`` prefix when the name is unique."""
    return row[f"{file}:{key}"] if f"{file}:{key}" in row else row[key]


def _run_queue(repo: Repo, *, restarts: int = 2) -> str:
    """``dvc queue start -j 1`` and wait; start a worker again if the last one died with tasks queued.

    DVC's queue runs on kombu's filesystem transport, whose worker can die reading a message file
    that is still empty (JSONDecodeError; celery/kombu#1551, treeverse/dvc#8570): the task stays
    Queued with no worker. Restarting the worker is what a user does (README, DVC experiments).
    """
    repo.dvc("queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    stalled_since = None  # when the status first showed tasks left and no worker
    while True:
        status = repo.dvc("queue", "status")
        if "Queued" not in status and "Running" not in status:
            return status
        now = time.monotonic()
        if "Running" in status or "0 active, 0 idle" not in status:
            stalled_since = None
        elif stalled_since is None:
            stalled_since = now
        if stalled_since is not None and now - stalled_since >= 15 and restarts > 0:  # not a worker still starting
            restarts, stalled_since = restarts - 1, None
            repo.dvc("queue", "start", "-j", "1")
        assert now < deadline, status
        time.sleep(2)


def test_queued_experiments_run_and_land_in_the_project_store(repo):
    repo.dvc("exp", "run", "--queue", "-S", "train_visual.learning_rate=0.002", "-n", "qa")
    repo.dvc("exp", "run", "--queue", "-S", "train_visual.mixup_alpha=0.2", "-n", "qb")
    status = _run_queue(repo)
    assert status.count("Success") >= 2, status
    rows = _exp_rows(repo)
    assert {"qa", "qb"} <= set(rows)
    for name in ("qa", "qb"):
        for metric in ("accuracy", "logloss"):
            assert 0 <= float(_cell(rows[name], "reports/evaluate/metrics.json", metric)) < 100  # one column each
    assert _cell(rows["qa"], "params.yaml", "train_visual.learning_rate") == "0.002"
    assert not any(c.endswith((":data", ":final_head", ":run_id")) for c in rows["qa"]), "metrics files hold numbers"
    by_exp: dict[str, set[str]] = {}
    for run in repo.runs():
        if run.data.tags.get("dvc_exp"):
            by_exp.setdefault(run.data.tags["dvc_exp"], set()).add(run.data.tags["stage"])
    for name in ("qa", "qb"):
        assert {"pipeline", "train_visual", "evaluate", "register"} <= by_exp.get(name, set()), by_exp
    parents = [r for r in repo.runs() if r.data.tags.get("stage") == "pipeline" and r.data.tags.get("dvc_exp") == "qa"]
    assert len(parents) == 1 and parents[0].info.run_name.endswith("· qa")
    assert "logloss" in parents[0].data.metrics
    assert not list((repo.root / ".dvc" / "tmp" / "exps").glob("*/mlruns/mlflow.db")), "runs left in a temp copy"


def test_temp_experiment_runs_outside_the_workspace(repo):
    before = (repo.root / "params.yaml").read_text()
    repo.dvc("exp", "run", "--temp", "-S", "train_fusion.mixup_alpha=0.1", "-n", "tmp1")
    assert (repo.root / "params.yaml").read_text() == before  # the workspace is untouched
    assert "tmp1" in _exp_rows(repo)
    stages = {r.data.tags["stage"] for r in repo.runs() if r.data.tags.get("dvc_exp") == "tmp1"}
    assert {"train_fusion", "finetune", "evaluate"} <= stages
    assert not list((repo.root / ".dvc" / "tmp" / "exps").glob("*/mlruns"))


def test_a_shared_remote_lets_a_fresh_clone_skip_every_stage(repo, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    repo.dvc("remote", "add", "-d", "team", str(remote))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "remote")
    repo.dvc("push")
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.root), str(clone), cwd=tmp_path)
    repo.dvc("pull", cwd=clone)
    status = repo.dvc("status", cwd=clone)
    assert "Data and pipelines are up to date." in status, status
    out = repo.dvc("repro", cwd=clone)
    assert "Running stage" not in out, out
    assert (clone / "data" / "tau-synthetic" / "meta.csv").is_file()
    assert (clone / "models" / "finetune" / "model.keras").is_file()
    assert not (clone / "mlruns").exists()  # nothing was trained again
