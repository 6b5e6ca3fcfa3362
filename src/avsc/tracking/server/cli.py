"""``avsc server start|stop|status`` and ``avsc store migrate``: arguments and output.

Only this module prints; URLs are shown without passwords (:func:`~avsc.tracking.server.urls.redact_url`).
Importing it is cheap (the CLI builds its parser from :func:`add_parsers` at every call).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(".avsc-server")
EXIT_NOT_RUNNING = 1


def _dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"server folder: PostgreSQL data, artifacts, logs, pid files (default {DEFAULT_DIR})",
    )


def add_parsers(sub, command) -> None:
    """Add ``server`` and ``store`` to the ``avsc`` sub-commands; ``command`` makes a lazy target."""
    p = sub.add_parser(
        "server",
        help="team mode: a PostgreSQL + MLflow tracking server on this machine",
        description="Start, stop or inspect the team server of this machine: PostgreSQL (databases "
        "mlflow and optuna) and `mlflow server` with the PostgreSQL backend store and proxied artifacts, "
        "both detached, bound to 127.0.0.1 unless --host says otherwise.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser(
        "start",
        help="start PostgreSQL and the MLflow server (a no-op when they run)",
        description="Start PostgreSQL and `mlflow server` detached, wait until /health answers, then print "
        "the MLFLOW_TRACKING_URI / PGPASSFILE export lines and the Optuna storage URL. The first start "
        "creates the cluster with random passwords (kept under --dir, never printed).",
    )
    _dir_arg(s)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=5000, help="MLflow server port (default 5000)")
    s.add_argument("--pg-port", type=int, default=5433, help="PostgreSQL port (default 5433)")
    s.add_argument("--workers", type=int, default=2, help="MLflow server worker processes (default 2)")
    s.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for /health (default 180)")
    s.add_argument(
        "--allowed-hosts",
        default=None,
        help="host names the MLflow server accepts in requests, comma-separated "
        "(MLflow's default: localhost and private IP addresses)",
    )
    s.add_argument("--auth", action="store_true", help="switch on MLflow's basic-auth app (users and permissions)")
    s.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="with --auth: file with `username=...` and `password=...` lines for the admin user (mode 600); "
        "default: MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD",
    )
    s.add_argument(
        "--auth-default-permission",
        default="EDIT",
        choices=["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"],
        help="with --auth: what every signed-in user may do on experiments and models they do not own (default EDIT)",
    )
    s.set_defaults(func=command("avsc.tracking.server.cli:cli_start"))
    s = actions.add_parser("stop", help="stop the MLflow server and PostgreSQL (SIGTERM, wait, report)")
    _dir_arg(s)
    s.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each to stop (default 30)")
    s.set_defaults(func=command("avsc.tracking.server.cli:cli_stop"))
    s = actions.add_parser(
        "status", help="what runs: pids, ports, URLs", description="Exit status 0 when both run, 1 otherwise."
    )
    _dir_arg(s)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=command("avsc.tracking.server.cli:cli_status"))

    p = sub.add_parser("store", help="MLflow store maintenance (migrate a local store to the team server)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = actions.add_parser(
        "migrate",
        help="copy the local SQLite store's runs and registry into the team server's database",
        description="Copy experiments, runs (same run ids, full metric history, params, tags, dataset inputs), "
        "logged models and the model registry (names, versions, tags, aliases) from a SQLite store into the "
        "server's database, and the artifacts into the server's artifact destination. Refuses when the target "
        "already holds one of the runs or registered models; never modifies the source.",
    )
    m.add_argument(
        "--to",
        required=True,
        help="the server's MLflow database URL (`avsc server start` prints it), e.g. postgresql://avsc@HOST:5433/mlflow",
    )
    m.add_argument("--from", dest="source", default=None, help="source store (default: the project's sqlite store)")
    m.add_argument(
        "--artifacts-destination",
        type=Path,
        default=None,
        help="the server's artifact folder (default: the `artifacts` folder of --dir)",
    )
    m.add_argument("--no-registry", action="store_true", help="copy experiments and runs only, not the model registry")
    _dir_arg(m)
    m.set_defaults(func=command("avsc.tracking.server.cli:cli_migrate"))


def _shown(state: dict) -> dict:
    """The state with every URL passed through :func:`redact_url` (they carry no password; this keeps it so)."""
    from avsc.secrets import redact_url

    urls = ("tracking_uri", "optuna_storage", "mlflow_db")
    return {k: redact_url(v) if k in urls and isinstance(v, str) else v for k, v in state.items()}


def _print_started(st, started: bool) -> None:
    state = _shown(st.state)
    if not started:
        print(
            f"avsc server: already running in {st.layout.root} (MLflow {state['tracking_uri']}, "
            f"PostgreSQL port {state['pg_port']}); nothing to do"
        )
        return
    print(f"avsc server: started in {st.layout.root}")
    print(f"  PostgreSQL   pid {st.postgres_pid}  port {state['pg_port']}  databases mlflow, optuna")
    print(f"  MLflow       pid {st.mlflow.pid}  {state['tracking_uri']}  artifacts {state['artifacts']}")
    print(f"  logs         {st.layout.mlflow_log}  {st.layout.pg_log}")
    print(f"export MLFLOW_TRACKING_URI={state['tracking_uri']}")
    print(f"export PGPASSFILE={state['pgpass']}")
    if state.get("auth"):
        print(f"export MLFLOW_TRACKING_USERNAME={state['auth_username']}")
        print("# and MLFLOW_TRACKING_PASSWORD: the admin password you set (not shown)")
    print(f"optuna storage: {state['optuna_storage']}   (avsc tune --storage {state['optuna_storage']})")
    print(f"mlflow database: {state['mlflow_db']}   (avsc store migrate --to {state['mlflow_db']})")


def cli_start(args) -> int:
    from avsc.errors import AvscError
    from avsc.tracking.server import lifecycle

    if args.credentials is not None and not args.auth:
        raise AvscError("--credentials is only used with --auth")
    try:
        opts = lifecycle.StartOptions(
            folder=args.dir,
            host=args.host,
            port=args.port,
            pg_port=args.pg_port,
            workers=args.workers,
            timeout=args.timeout,
            auth=args.auth,
            credentials_file=args.credentials,
            default_permission=args.auth_default_permission,
            allowed_hosts=args.allowed_hosts,
        )
        st, started = lifecycle.start(opts)
    except ValueError as exc:
        raise AvscError(str(exc)) from None
    _print_started(st, started)
    return 0


def cli_stop(args) -> int:
    from avsc.tracking.server import lifecycle

    lines = lifecycle.stop(args.dir, timeout=args.timeout)
    if not lines:
        print(f"avsc server: nothing running in {args.dir.resolve()}")
    for line in lines:
        print(f"avsc server: {line}")
    return 0


def status_dict(st) -> dict:
    state = _shown(st.state)
    return {
        "dir": str(st.layout.root),
        "running": st.running,
        "postgres": {"pid": st.postgres_pid, "port": state.get("pg_port")},
        "mlflow": {
            "pid": st.mlflow.pid if st.mlflow else None,
            "port": state.get("port"),
            "healthy": st.mlflow_healthy,
        },
        "tracking_uri": state.get("tracking_uri"),
        "optuna_storage": state.get("optuna_storage"),
        "mlflow_db": state.get("mlflow_db"),
        "auth": bool(state.get("auth")),
        "artifacts": state.get("artifacts"),
    }


def cli_status(args) -> int:
    from avsc.tracking.server import lifecycle

    st = lifecycle.status(args.dir)
    info = status_dict(st)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0 if st.running else EXIT_NOT_RUNNING
    pg, ml = info["postgres"], info["mlflow"]
    print(f"avsc server in {info['dir']}: {'running' if st.running else 'not running'}")
    print(f"  PostgreSQL   {'pid ' + str(pg['pid']) + '  port ' + str(pg['port']) if pg['pid'] else 'stopped'}")
    if ml["pid"]:
        health = "healthy" if ml["healthy"] else "not answering /health"
        print(f"  MLflow       pid {ml['pid']}  {info['tracking_uri']}  {health}")
    else:
        print("  MLflow       stopped")
    if st.running:
        print(f"  optuna       {info['optuna_storage']}")
        print(f"  auth         {'basic-auth' if info['auth'] else 'off'}")
    return 0 if st.running else EXIT_NOT_RUNNING


def cli_migrate(args) -> int:
    from avsc.tracking.server.migrate import migrate_command

    summary = migrate_command(
        to=args.to,
        source=args.source,
        artifacts=args.artifacts_destination,
        folder=args.dir,
        with_registry=not args.no_registry,
    )
    print(summary)
    return 0
