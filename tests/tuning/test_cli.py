"""``avsc tune`` exits non-zero, with one line naming the study, when no trial of the study completed."""

from __future__ import annotations

from avsc.entry import EXIT_USER_ERROR


def _tune(*extra: str) -> int:
    from avsc.cli import main

    return main(["tune", "--study-name", "nothing", "--max-epochs", "1", "--target", "visual", *extra])


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("avsc tune:")]


def test_exit_nonzero_when_every_trial_fails(tune_workspace, monkeypatch, capsys):
    """Training that always fails: the worker stops after MAX_FAILURES_IN_ROW failed trials and says so."""
    from avsc.training import stages
    from avsc.tuning.worker import MAX_FAILURES_IN_ROW

    def broken_fit(*args, **kwargs):
        raise RuntimeError("cannot train")

    monkeypatch.setattr(stages, "fit", broken_fit)
    code = _tune("--n-trials", "5")
    captured = capsys.readouterr()
    assert code == EXIT_USER_ERROR
    assert _error_lines(captured.err) == [
        f"avsc tune: error: study 'nothing': no trial completed (0 pruned, {MAX_FAILURES_IN_ROW} failed, "
        f"{MAX_FAILURES_IN_ROW} of them by this worker); see the log above"
    ]
    assert "complete 0  pruned 0  failed 3  running 0" in captured.out  # the summary is still printed
    assert not (tune_workspace / "params-best.yaml").exists()


def test_exit_nonzero_when_timeout_leaves_no_trial(tune_workspace, capsys):
    code = _tune("--timeout", "0")
    captured = capsys.readouterr()
    assert code == EXIT_USER_ERROR
    assert _error_lines(captured.err) == [
        "avsc tune: error: study 'nothing': no trial completed (0 pruned, 0 failed, 0 of them by this worker); "
        "see the log above"
    ]
