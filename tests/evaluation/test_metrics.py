"""Metrics against hand-computed values and against scikit-learn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, log_loss

from avsc.data.tau import CLASSES
from avsc.evaluation.metrics import (
    classwise_accuracy,
    classwise_logloss,
    confusion,
    dcase_metrics,
)


def _row(**probs: float) -> list[float]:
    row = [0.0] * 10
    for name, p in probs.items():
        row[CLASSES.index(name)] = p
    return row


@pytest.fixture
def three_segments() -> tuple[np.ndarray, np.ndarray]:
    # two airport segments, one bus segment
    y = np.array([0, 0, 1])
    proba = np.array(
        [
            _row(airport=0.5, bus=0.5),  # airport, p(true)=0.5 (argmax tie -> airport, index 0)
            _row(airport=0.2, bus=0.8),  # airport, p(true)=0.2, predicted bus
            _row(airport=0.1, bus=0.6, metro=0.3),  # bus, p(true)=0.6
        ]
    )
    return y, proba


def test_classwise_logloss_by_hand(three_segments):
    y, proba = three_segments
    ll = classwise_logloss(y, proba)
    assert ll.shape == (10,)
    assert ll[0] == pytest.approx((-math.log(0.5) - math.log(0.2)) / 2)
    assert ll[1] == pytest.approx(-math.log(0.6))
    assert np.all(np.isnan(ll[2:]))


def test_classwise_accuracy_and_confusion_by_hand(three_segments):
    y, proba = three_segments
    pred = proba.argmax(axis=1)
    assert pred.tolist() == [0, 1, 1]
    cm = confusion(y, pred)
    assert cm.shape == (10, 10) and cm.dtype.kind == "i"
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm.sum() == 3
    acc = classwise_accuracy(y, pred)
    assert acc[0] == pytest.approx(0.5)
    assert acc[1] == pytest.approx(1.0)
    assert np.all(np.isnan(acc[2:]))


def test_dcase_metrics_by_hand(three_segments):
    y, proba = three_segments
    m = dcase_metrics(y, proba)
    macro_ll = ((-math.log(0.5) - math.log(0.2)) / 2 + -math.log(0.6)) / 2
    assert m["logloss"] == pytest.approx(macro_ll)
    assert m["accuracy"] == pytest.approx(0.75)  # mean of 0.5 and 1.0, absent classes ignored
    assert m["overall_accuracy"] == pytest.approx(2 / 3)
    assert m["overall_logloss"] == pytest.approx((-math.log(0.5) - math.log(0.2) - math.log(0.6)) / 3)
    assert m["n"] == 3
    assert list(m["per_class"]) == list(CLASSES)
    assert m["per_class"]["airport"] == {
        "logloss": pytest.approx((-math.log(0.5) - math.log(0.2)) / 2),
        "accuracy": 0.5,
        "n": 2,
    }
    assert m["per_class"]["metro"] == {"logloss": None, "accuracy": None, "n": 0}
    assert m["confusion"][0][1] == 1 and len(m["confusion"]) == 10


def test_zero_probability_is_clipped_not_infinite():
    y = np.array([2])
    proba = np.array([_row(airport=1.0)])  # true class metro has p = 0
    ll = classwise_logloss(y, proba)
    assert np.isfinite(ll[2])
    assert ll[2] == pytest.approx(-math.log(np.finfo(np.float64).eps))


def test_unnormalised_rows_are_renormalised_without_warning():
    y = np.array([0, 1])
    proba = np.array([_row(airport=2.0, bus=2.0), _row(bus=3.0, tram=1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ll = classwise_logloss(y, proba)
    assert ll[0] == pytest.approx(-math.log(0.5))
    assert ll[1] == pytest.approx(-math.log(0.75))


@pytest.fixture
def random_predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2021)
    y = np.concatenate([np.arange(10), rng.integers(0, 10, size=190)])  # every class present
    rng.shuffle(y)
    proba = rng.dirichlet(np.ones(10) * 0.7, size=200)
    # make predictions informative so accuracies are not all ~0.1
    proba[np.arange(200), y] += rng.uniform(0, 1.5, size=200)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba


def test_against_sklearn(random_predictions):
    y, proba = random_predictions
    ll = classwise_logloss(y, proba)
    expected = np.array([log_loss(y[y == c], proba[y == c], labels=list(range(10))) for c in range(10)])
    np.testing.assert_allclose(ll, expected, rtol=1e-12)
    pred = proba.argmax(axis=1)
    m = dcase_metrics(y, proba)
    assert m["logloss"] == pytest.approx(expected.mean(), rel=1e-12)
    assert m["accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), rel=1e-12)
    assert m["overall_logloss"] == pytest.approx(log_loss(y, proba, labels=list(range(10))), rel=1e-12)
    assert m["overall_accuracy"] == pytest.approx(np.mean(pred == y))
    np.testing.assert_array_equal(np.array(m["confusion"]), confusion_matrix(y, pred, labels=list(range(10))))
    acc = classwise_accuracy(y, pred)
    for c, name in enumerate(CLASSES):
        assert m["per_class"][name]["n"] == int(np.sum(y == c))
        assert m["per_class"][name]["accuracy"] == pytest.approx(acc[c])
        assert 0.0 <= acc[c] <= 1.0


def test_float32_input_matches_float64(random_predictions):
    y, proba = random_predictions
    np.testing.assert_allclose(classwise_logloss(y, proba.astype(np.float32)), classwise_logloss(y, proba), rtol=1e-5)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        classwise_logloss(np.array([0, 1]), np.full((2, 9), 1 / 9))
    with pytest.raises(ValueError):
        confusion(np.array([0, 10]), np.array([0, 1]))
