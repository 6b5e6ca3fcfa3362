"""avsc.tuning: the ``avsc tune`` Optuna search.

``cli`` (the command) -> ``worker`` (one worker's share of a study) -> ``budget`` (exact trial
budget), ``liveness`` (heartbeats, trials of dead workers), ``objective`` (one trial), ``runs``
(MLflow), ``report`` (summary, params-best.yaml, plots); ``space`` (what is searched),
``storage`` (journal / RDB), ``options``, ``retries``.
"""
