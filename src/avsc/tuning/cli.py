"""``avsc tune``: an Optuna search over mixup alpha, the learning rate and the GRU sizes.

See :mod:`avsc.tuning.worker` (the worker), :mod:`avsc.tuning.objective` (one trial),
:mod:`avsc.tuning.space` (what is searched) and :mod:`avsc.tuning.report` (what is left behind).
Exit status: 0 when the study has a complete trial, 130 when interrupted (143 after SIGTERM); when no trial of the
study completed, one line naming the study and a non-zero exit (via :mod:`avsc.entry`).
"""

from __future__ import annotations

import logging
from typing import Any

from avsc.config.settings import find_root, load_params
from avsc.errors import AvscError
from avsc.interrupts import interrupt_exit_code
from avsc.tuning.options import options_from_args
from avsc.tuning.report import format_summary
from avsc.tuning.worker import tune

log = logging.getLogger(__name__)


def cli_tune(args: Any) -> int:
    from avsc.tracking.service import configure

    params = load_params(args.params)
    if getattr(args, "system", None):
        params = params.model_copy(update={"model": params.model.model_copy(update={"system": args.system})})
    root = find_root()
    opts = options_from_args(args, params)
    configure(root)
    summary = tune(params, root, opts)
    print(format_summary(summary), flush=True)
    if summary["interrupted"]:
        return interrupt_exit_code()  # 130 after Ctrl-C, 143 after SIGTERM
    counts = summary["counts"]
    if not counts["COMPLETE"]:
        raise AvscError(
            f"study {opts.study_name!r}: no trial completed ({counts['PRUNED']} pruned, {counts['FAIL']} failed, "
            f"{summary['this_worker'].get('FAIL', 0)} of them by this worker); see the log above"
        )
    log.info("tune: study %s finished for this worker", opts.study_name)
    return 0
