"""docker-compose.yml (Docker cannot run here): valid YAML describing the team stack, no secret in it."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_compose_describes_postgres_and_an_mlflow_server_with_proxied_artifacts():
    text = (REPO / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    assert set(services) == {"postgres", "mlflow"}
    pg, ml = services["postgres"], services["mlflow"]
    assert pg["environment"]["POSTGRES_PASSWORD"].startswith("${AVSC_PG_PASSWORD:?")
    assert pg["ports"] == ["127.0.0.1:5433:5432"] and ml["ports"] == ["127.0.0.1:5000:5000"]
    init = pg["volumes"][1].split(":")[0]
    assert (REPO / init).read_text().strip().endswith("CREATE DATABASE optuna OWNER avsc;")
    command = ml["command"]
    store = command[command.index("--backend-store-uri") + 1]
    assert store == "postgresql+psycopg2://avsc@postgres:5432/mlflow"  # no password: libpq reads PGPASSWORD
    assert "--serve-artifacts" in command and command[command.index("--artifacts-destination") + 1] == "/artifacts"
    assert ml["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "Docker cannot run" in text
