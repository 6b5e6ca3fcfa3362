"""Team mode: one tracking server on this machine that several people and machines share.

``avsc server start`` runs PostgreSQL (databases ``mlflow``, ``optuna``) and ``mlflow server``
(PostgreSQL backend store, proxied artifacts) detached under a folder; clients point
``MLFLOW_TRACKING_URI`` at it and Optuna workers use its PostgreSQL as storage.
``avsc store migrate`` copies a local SQLite store into it. Modules: :mod:`.lifecycle`
(start/stop/status), :mod:`.postgres`, :mod:`.mlflow_proc`, :mod:`.auth`, :mod:`.layout`,
:mod:`.urls`, :mod:`.migrate`, :mod:`.cli`.
"""
