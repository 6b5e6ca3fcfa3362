"""Fixtures of the data-entry tests: a TAU copy, file snapshots, git + DVC repositories, zips of the
synthetic sample laid out like the official archives, and a local HTTP server with Range support."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / ".venv" / "bin"
TOP = "TAU-urban-audio-visual-scenes-2021-development"
PREFIX = f"{TOP}."


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: content hash and the inode facts a hard link or chmod would change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            out[path.relative_to(root).as_posix()] = (
                digest,
                st.st_mode,
                st.st_ino,
                st.st_nlink,
                st.st_size,
                st.st_mtime_ns,
                st.st_uid,
            )
    return out


@pytest.fixture
def snap():
    """:func:`snapshot`, for the tests."""
    return snapshot


@pytest.fixture
def tau_copy(tmp_path, synthetic_dataset) -> Path:
    """A private copy of the session's synthetic TAU sample (the user's dataset in these tests)."""
    out = tmp_path / "user" / "TAU"
    shutil.copytree(synthetic_dataset, out)
    return out


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AVSC_ROOT", "AVSC_PIPELINE_RUN")}
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
    return env


@dataclass
class Project:
    """A throw-away git + DVC repository holding the pipeline (``run`` runs a command in it)."""

    root: Path
    env: dict[str, str]

    def run(self, *cmd: str, check: bool = True) -> str:
        proc = subprocess.run(list(cmd), cwd=self.root, env=self.env, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}")
        return out

    def dvc(self, *args: str, check: bool = True) -> str:
        return self.run(str(BIN / "dvc"), *args, check=check)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    """git + dvc init'ed copy of the pipeline (dvc.yaml, params.yaml, pipelines/, src/); AVSC_ROOT points at it."""
    if not (BIN / "dvc").exists():
        pytest.skip(f"{BIN / 'dvc'} not installed")
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "pipelines", root / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src" / "avsc", root / "src" / "avsc", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    proj = Project(root=root, env=git_env())
    proj.run("git", "init", "-q")
    proj.dvc("init", "-q")
    proj.run("git", "add", "-A")
    proj.run("git", "commit", "-q", "-m", "init")
    monkeypatch.setenv("AVSC_ROOT", str(root))
    monkeypatch.chdir(root)
    return proj


# --- archives laid out like the official ones, and a server for them ---------------------------------


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def official_like_zips(dataset: Path) -> dict[str, bytes]:
    """The sample split like the release: meta (index files), audio.1, video.1 and video.2, under ``TOP/``."""
    files = sorted(p for p in dataset.rglob("*") if p.is_file())
    rel = {p.relative_to(dataset).as_posix(): p.read_bytes() for p in files}
    meta = {f"{TOP}/{k}": v for k, v in rel.items() if not k.startswith(("audio/", "video/"))}
    audio = {f"{TOP}/{k}": v for k, v in rel.items() if k.startswith("audio/")}
    videos = sorted(k for k in rel if k.startswith("video/"))
    half = len(videos) // 2
    return {
        f"{PREFIX}meta.zip": _zip(meta),
        f"{PREFIX}audio.1.zip": _zip(audio),
        f"{PREFIX}video.1.zip": _zip({f"{TOP}/{k}": rel[k] for k in videos[:half]}),
        f"{PREFIX}video.2.zip": _zip({f"{TOP}/{k}": rel[k] for k in videos[half:]}),
    }


def archive_list(zips: dict[str, bytes], *, base_url: str | None = None, sizes: bool = True) -> dict:
    doc: dict = {
        "archives": [
            {"name": name, "bytes": len(data) if sizes else None, "md5": hashlib.md5(data).hexdigest()}
            for name, data in zips.items()
        ]
    }
    if base_url:
        doc["base_url"] = base_url
    return doc


@pytest.fixture(scope="session")
def tau_zips(synthetic_dataset) -> dict[str, bytes]:
    return official_like_zips(synthetic_dataset)


@dataclass
class ArchiveServer:
    """What the local server serves and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    drop_first: set[str] = field(default_factory=set)  # send half the body, then close, on the first request
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""

    def write_list(self, path: Path, *, corrupt: set[str] = frozenset(), sizes: bool = True) -> Path:
        doc = archive_list(self.files, base_url=self.url + "/files/{name}", sizes=sizes)
        for item in doc["archives"]:
            if item["name"] in corrupt:
                item["md5"] = "0" * 32
        path.write_text(json.dumps(doc))
        return path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state: ArchiveServer = self.server.state  # type: ignore[attr-defined]
        name = unquote(urlparse(self.path).path.rsplit("/", 1)[-1])
        rng = self.headers.get("Range")
        state.requests.append((name, rng))
        data = state.files.get(name)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match and not state.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        if name in state.drop_first:
            state.drop_first.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def archive_server():
    state = ArchiveServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
