"""The team server's PostgreSQL cluster, run with Debian's binaries (``/usr/lib/postgresql/*/bin``).

``initdb`` refuses to run as root, so when we are root every PostgreSQL command runs as the
``postgres`` system user (``runuser``) and the cluster folder belongs to it. The server listens on
TCP only (no Unix socket, whose path length is limited), with SCRAM passwords for every
connection: the superuser ``postgres`` from this machine only, the role ``avsc`` (owner of the
``mlflow``, ``optuna`` and ``mlflow_auth`` databases) from wherever ``--host`` makes it reachable.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from avsc.errors import AvscError
from avsc.tracking.server.layout import ROLE, Layout, read_pgpass_password

log = logging.getLogger(__name__)

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"

PG_HBA = f"""# written by avsc server: TCP only, SCRAM passwords
host all {SUPERUSER} 127.0.0.1/32 scram-sha-256
host all {SUPERUSER} ::1/128 scram-sha-256
host all {ROLE} all scram-sha-256
"""


def bindir() -> Path:
    """The newest PostgreSQL server binaries installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise AvscError(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
            "install the Debian package `postgresql` (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def run_as_postgres() -> bool:
    """Whether PostgreSQL commands run as the ``postgres`` system user (we are root)."""
    return os.geteuid() == 0


def _as_user(cmd: list[str]) -> list[str]:
    if not run_as_postgres():
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise AvscError("running as root needs `runuser` (util-linux) to start PostgreSQL as the postgres user")
    return [runuser, "-u", SYSTEM_USER, "--", *cmd]


def _run(cmd: list[str], *, what: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    proc = subprocess.run(_as_user(cmd), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}").splitlines()[-1]
        raise AvscError(f"{what} failed: {detail[:300]}")
    return proc


def check_system_user() -> None:
    """When we are root, the ``postgres`` system user must exist (the Debian package creates it)."""
    if not run_as_postgres():
        return
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise AvscError(
            "running as root and there is no `postgres` system user to run PostgreSQL "
            "(the Debian package `postgresql` creates it)"
        ) from None


def _give_to_postgres(path: Path) -> None:
    if run_as_postgres():
        shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


def prepare_folder(layout: Layout) -> None:
    """Create ``<dir>/postgres`` for the cluster; the ``postgres`` user must be able to reach it."""
    layout.postgres.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(layout.postgres, 0o700)
    _give_to_postgres(layout.postgres)
    if run_as_postgres():
        probe = subprocess.run(_as_user(["test", "-w", str(layout.postgres)]), capture_output=True)
        if probe.returncode != 0:
            raise AvscError(
                f"{layout.root}: the `postgres` user cannot reach this folder (a parent folder is not "
                "searchable by other users); choose another --dir or give its parents o+x"
            )


def initialized(layout: Layout) -> bool:
    return (layout.pg_data / "PG_VERSION").is_file()


def init_cluster(layout: Layout, superuser_password: str) -> None:
    """``initdb`` a new cluster (UTF-8, C locale, SCRAM passwords) and write its pg_hba.conf."""
    pwfile = layout.postgres / ".initdb-password"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(superuser_password + "\n")
    _give_to_postgres(pwfile)
    try:
        _run(
            [
                str(bindir() / "initdb"),
                "-D",
                str(layout.pg_data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=reject",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            what="initdb",
            cwd=layout.postgres,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    hba = layout.pg_data / "pg_hba.conf"
    hba.write_text(PG_HBA)
    _give_to_postgres(hba)


def listen_addresses(host: str) -> str:
    """``listen_addresses``: ``host``, plus 127.0.0.1 so local clients always reach the server."""
    if host in ("127.0.0.1", "localhost"):
        return "127.0.0.1"
    if host == "::":
        return "*"
    return host if host == "0.0.0.0" else f"{host},127.0.0.1"


def start(layout: Layout, *, host: str, port: int, timeout: float = 60) -> int:
    """Start the cluster (``pg_ctl start -w``) on ``host:port``; return the postmaster's pid."""
    options = f"-c port={port} -c listen_addresses={listen_addresses(host)} -c unix_socket_directories=''"
    try:
        _run(
            [
                str(bindir() / "pg_ctl"),
                "-D",
                str(layout.pg_data),
                "-l",
                str(layout.pg_log),
                "-w",
                "-t",
                str(int(timeout)),
                "-o",
                options,
                "start",
            ],
            what="PostgreSQL start",
            cwd=layout.postgres,
            timeout=timeout + 30,
        )
    except AvscError as exc:
        raise AvscError(f"{exc} (log: {layout.pg_log}: {last_log_line(layout.pg_log)})") from None
    pid = running_pid(layout)
    if pid is None:
        raise AvscError(f"PostgreSQL did not stay up (log: {layout.pg_log}: {last_log_line(layout.pg_log)})")
    return pid


def running_pid(layout: Layout) -> int | None:
    """The postmaster's pid when ``pg_ctl status`` says the cluster runs."""
    if not initialized(layout):
        return None
    try:
        _run([str(bindir() / "pg_ctl"), "-D", str(layout.pg_data), "status"], what="pg_ctl status", cwd=layout.root)
    except AvscError:
        return None
    try:
        return int((layout.pg_data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def running_port(layout: Layout) -> int | None:
    """The port the running cluster listens on (line 4 of postmaster.pid)."""
    try:
        return int((layout.pg_data / "postmaster.pid").read_text().splitlines()[3])
    except (OSError, ValueError, IndexError):
        return None


def stop(layout: Layout, *, timeout: float = 60) -> str:
    """Stop the cluster: fast shutdown (clients disconnected, data flushed), immediate if that times out."""
    ctl = str(bindir() / "pg_ctl")
    try:
        _run(
            [ctl, "-D", str(layout.pg_data), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
            what="PostgreSQL stop",
            cwd=layout.root,
            timeout=timeout + 30,
        )
        return "stopped"
    except AvscError as exc:
        log.warning("%s; stopping PostgreSQL in immediate mode", exc)
        _run([ctl, "-D", str(layout.pg_data), "-m", "immediate", "-w", "stop"], what="PostgreSQL stop", cwd=layout.root)
        return "stopped (immediate mode: it did not stop within the timeout)"


def last_log_line(path: Path) -> str:
    """The last non-empty line of a log file, for one-line error messages."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "empty log"


def ensure_databases(layout: Layout, *, port: int, databases: tuple[str, ...]) -> None:
    """Create the ``avsc`` role (password from pgpass) and ``databases`` it owns, when missing."""
    import psycopg2
    from psycopg2 import sql

    superuser_password = layout.superuser_password.read_text().strip()
    role_password = read_pgpass_password(layout.pgpass, ROLE)
    if role_password is None:
        raise AvscError(f"{layout.pgpass}: no password for role {ROLE!r}; remove {layout.root} to start afresh")
    con = psycopg2.connect(
        host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password, dbname="postgres", connect_timeout=10
    )
    try:
        con.autocommit = True
        cur = con.cursor()
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(ROLE)), (role_password,))
        for name in databases:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                        sql.Identifier(name), sql.Identifier(ROLE)
                    )
                )
                log.info("created database %s", name)
    finally:
        con.close()
