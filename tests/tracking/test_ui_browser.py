"""A person's view: the MLflow UI, in a real (headless) Chromium, lists the pipeline run with its metrics.

The store is the trained workspace's (real stages, evaluate's final metrics copied to the pipeline
parent run). MLflow's runs table hides metric columns by default; avsc gives every experiment a saved
view (``viewStateShareKey=avsc-pipelines``) that shows accuracy and log-loss, and this test opens the
experiment through that view's URL. Chromium runs as a CLI (``--dump-dom`` after the page's scripts
ran, ``--screenshot``): no browser driver needed. The screenshot is kept in ``test-artifacts/ui/``
(git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "ui"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=30000",
]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian package `chromium`; .ci/run installs it)")


class _Node:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag, self.attrs, self.children, self.text = tag, attrs, [], []

    def all_text(self) -> str:
        return "".join(self.text + [c.all_text() for c in self.children])

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class _Tree(HTMLParser):
    """The DOM Chromium dumped, as a small tree (enough to read a table's cells)."""

    def __init__(self) -> None:
        super().__init__()
        self.root = _Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1].text.append(data)


def run_cells(html: str, run_id: str) -> tuple[str, dict[str, str]]:
    """Text of the runs-table rows of ``run_id`` and their cells by column id."""
    tree = _Tree()
    tree.feed(html)
    text, cells = [], {}
    for node in tree.root.walk():
        if node.attrs.get("role") == "row" and node.attrs.get("row-id") == run_id:
            text.append(node.all_text())
            for cell in node.walk():
                if cell.attrs.get("role") == "gridcell" and "col-id" in cell.attrs:
                    cells[cell.attrs["col-id"]] = cell.all_text().strip()
    return " ".join(text), cells


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui_server(trained_workspace, tmp_path):
    """``mlflow server`` on 127.0.0.1 over a copy of the trained workspace's store; yields (url, store URI)."""
    src_db = Path(trained_workspace.tracking_uri.removeprefix("sqlite:///"))
    db = tmp_path / "mlflow.db"
    src, dst = sqlite3.connect(src_db), sqlite3.connect(db)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (tmp_path / "ui.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not answer /health in 120 s"
            time.sleep(0.5)
        yield url, f"sqlite:///{db}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _browser(chromium: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="avsc-chromium-") as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=180,
        )


def test_runs_view_lists_the_pipeline_run_with_its_metrics(ui_server, monkeypatch):
    import mlflow

    from avsc.tracking.service import pipeline_view_url

    chromium = _chromium()
    url, store = ui_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    client = mlflow.MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("avsc")
    parent = client.search_runs([exp.experiment_id], "tags.stage = 'pipeline'")[0]
    accuracy, logloss = parent.data.metrics["accuracy"], parent.data.metrics["logloss"]
    page = pipeline_view_url(url, exp.experiment_id)

    text, cells = "", {}
    for _attempt in range(3):  # the first load of a cold server can outlast the virtual time budget
        dom = _browser(chromium, "--dump-dom", page)
        assert dom.returncode == 0, dom.stderr[-2000:]
        text, cells = run_cells(dom.stdout, parent.info.run_id)
        if "metrics.`logloss`" in cells:
            break
    assert parent.info.run_name in text, f"the pipeline run is not in the runs table: {text[:500]!r}"
    assert float(cells["metrics.`accuracy`"]) == pytest.approx(accuracy, rel=1e-6)
    assert float(cells["metrics.`logloss`"]) == pytest.approx(logloss, rel=1e-6)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "pipeline-runs.png"
    shot.unlink(missing_ok=True)
    proc = _browser(chromium, f"--screenshot={shot}", "--window-size=1600,900", "--hide-scrollbars", page)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
