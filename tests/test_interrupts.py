"""SIGTERM handled like Ctrl-C: Terminated raised, held during a commit, exit status 143."""

from __future__ import annotations

import os
import signal

import pytest

from avsc.entry import run_entry
from avsc.interrupts import Terminated, deferred, interrupt_exit_code, terminate_as_interrupt


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_raises_a_keyboard_interrupt():
    with terminate_as_interrupt():
        with pytest.raises(KeyboardInterrupt) as caught:
            _sigterm()
        assert isinstance(caught.value, Terminated)
        assert interrupt_exit_code() == 143


def test_sigterm_inside_a_commit_is_raised_when_it_ends():
    done = []
    with terminate_as_interrupt():
        with pytest.raises(Terminated):
            with deferred():
                _sigterm()
                done.append("commit")  # not cut short
            done.append("after")  # never reached
    assert done == ["commit"]


def test_a_second_sigterm_does_not_cut_the_cleanup_short():
    cleaned = []
    with terminate_as_interrupt():
        try:
            _sigterm()
        except Terminated:
            _sigterm()
            cleaned.append(True)
    assert cleaned == [True]


def test_run_entry_exits_143_on_sigterm_and_130_on_ctrl_c(capsys):
    assert run_entry("avsc x", _sigterm) == 143
    assert "avsc x: terminated (SIGTERM)" in capsys.readouterr().err

    def ctrl_c():
        raise KeyboardInterrupt

    assert run_entry("avsc x", ctrl_c) == 130
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is removed afterwards
