"""The promotion rule (pure): comparability, real versus synthetic data, non-finite metrics."""

from __future__ import annotations

import pytest

from avsc.tracking.promotion import COMPARABLE, decide, settle, tag_logloss

BASE = {
    "logloss": "1.000000",
    "system": "secrnn",
    "dataset_hash": "a" * 32,
    "n_segments": "200",
    "n_skipped": "0",
    "final_head": "late",
    "data": "tau",
}


def tags(**changes) -> dict:
    return {**BASE, **changes}


def test_no_champion_promotes():
    decision = decide(tags(), None)
    assert decision.promote and "no champion" in decision.reason


def test_lower_logloss_promotes_equal_or_higher_refuses():
    assert decide(tags(logloss="0.9"), tags()).promote
    for value in ("1.0", "1.2"):
        decision = decide(tags(logloss=value), tags())
        assert not decision.promote and "not better" in decision.reason


@pytest.mark.parametrize("key", sorted(COMPARABLE))
def test_any_comparability_key_that_differs_refuses_even_when_better(key):
    decision = decide(tags(logloss="0.1", **{key: "other"}), tags())
    assert not decision.promote
    assert decision.reason.startswith("not comparable") and COMPARABLE[key] in decision.reason


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "", "None", "abc"])
def test_non_finite_challenger_is_never_promoted(value):
    assert not decide(tags(logloss=value), None).promote
    assert not decide(tags(logloss=value), tags(logloss="5.0")).promote


def test_missing_logloss_tag_is_refused_not_a_crash():
    challenger = tags()
    del challenger["logloss"]
    decision = decide(challenger, tags())
    assert not decision.promote and "no finite" in decision.reason


def test_champion_without_finite_logloss_is_replaced():
    assert decide(tags(), tags(logloss="nan")).promote


def test_real_data_replaces_a_synthetic_champion_whatever_the_numbers():
    synthetic_champion = tags(data="synthetic", dataset_hash="s" * 32, logloss="0.01", n_segments="20")
    decision = decide(tags(logloss="2.0"), synthetic_champion)
    assert decision.promote and "synthetic" in decision.reason


def test_synthetic_challenger_never_replaces_a_real_champion():
    decision = decide(tags(data="synthetic", logloss="0.001"), tags(logloss="3.0"))
    assert not decision.promote and "never promoted" in decision.reason


def test_two_synthetic_versions_compare_normally():
    champion = tags(data="synthetic", logloss="2.0")
    assert decide(tags(data="synthetic", logloss="1.5"), champion).promote
    assert not decide(tags(data="synthetic", logloss="2.5"), champion).promote


def test_tag_logloss_parses_only_finite_numbers():
    assert tag_logloss({"logloss": "0.5"}) == 0.5
    assert tag_logloss({"logloss": "nan"}) is None
    assert tag_logloss({}) is None


def test_settle_picks_what_serial_promotions_would_leave():
    champion = ("1", tags(logloss="1.0"))
    contenders = [("3", tags(logloss="0.6")), ("2", tags(logloss="0.8")), ("4", tags(logloss="0.7"))]
    best, reason = settle(champion, contenders)
    assert best == "3" and "0.6000 < champion" in reason


def test_settle_keeps_the_champion_when_no_claim_beats_it():
    champion = ("3", tags(logloss="0.6"))
    assert settle(champion, [("2", tags(logloss="0.8")), ("4", tags(logloss="nan"))]) == ("3", "")
    assert settle(champion, [("5", tags(logloss="0.1", dataset_hash="b" * 32))]) == ("3", "")  # not comparable


def test_settle_without_a_champion():
    assert settle(None, [("2", tags(logloss="0.8")), ("3", tags(logloss="0.9"))])[0] == "2"
    assert settle(None, []) == (None, "")
