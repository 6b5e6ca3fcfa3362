-- Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d):
-- the Optuna database next to MLflow's, owned by the same role (avsc tune --storage .../optuna).
CREATE DATABASE optuna OWNER avsc;
