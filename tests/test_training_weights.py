"""Training weights: one function (dataset.training_weights) behind Dataset.training_weight and
hepsift.train.weights, checked against hand computations with negative weights."""

from __future__ import annotations

import numpy as np
import pytest

from hepsift import dataset
from hepsift.dataset import Dataset, training_weights
from hepsift.errors import ConfigError, DataError
from hepsift.train import weights as train_weights

# 3 background events (one negative), 2 signal events (one negative)
Y = np.array([0, 0, 0, 1, 1])
W = np.array([2.0, -1.0, 3.0, 0.5, -0.25])


def _ds() -> Dataset:
    return Dataset(X=np.zeros((5, 1), dtype=np.float32), y=Y, weight=W, feature_names=("a",))


def test_one_implementation() -> None:
    assert train_weights.training_weights is dataset.training_weights
    assert train_weights.check_negative_policy is dataset.check_negative_policy


@pytest.mark.parametrize(
    ("negative", "expected"),
    [
        ("keep", [2.0, -1.0, 3.0, 0.5, -0.25]),
        ("abs", [2.0, 1.0, 3.0, 0.5, 0.25]),
        ("drop", [2.0, 0.0, 3.0, 0.5, 0.0]),
    ],
)
def test_negative_policies_by_hand(negative: str, expected: list[float]) -> None:
    np.testing.assert_array_equal(training_weights(Y, W, negative=negative), expected)
    np.testing.assert_array_equal(_ds().training_weight(negative=negative), expected)  # type: ignore[arg-type]


def test_balanced_classes_by_hand() -> None:
    # abs: background 2 + 1 + 3 = 6, signal 0.5 + 0.25 = 0.75; n = 5 events, 2 classes
    # each class is scaled to n / 2 = 2.5: background by 2.5 / 6, signal by 2.5 / 0.75
    expected = np.array([2.0, 1.0, 3.0, 0.5, 0.25]) * np.array([2.5 / 6] * 3 + [2.5 / 0.75] * 2)
    got = training_weights(Y, W, negative="abs", class_weight="balanced")
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    np.testing.assert_allclose(got[Y == 0].sum(), 2.5)
    np.testing.assert_allclose(got[Y == 1].sum(), 2.5)
    assert got.mean() == pytest.approx(1.0)
    np.testing.assert_array_equal(_ds().training_weight(negative="abs", balance_classes=True), got)
    # keep: background 2 - 1 + 3 = 4, signal 0.5 - 0.25 = 0.25; signs survive balancing
    kept = training_weights(Y, W, negative="keep", class_weight="balanced")
    np.testing.assert_allclose(kept, W * np.array([2.5 / 4] * 3 + [2.5 / 0.25] * 2))
    # drop: background 5, signal 0.5
    dropped = _ds().training_weight(negative="drop", balance_classes=True)
    np.testing.assert_allclose(dropped, [1.0, 0.0, 1.5, 2.5, 0.0])


def test_class_weight_dict_by_label_or_index() -> None:
    got = training_weights(
        Y, W, negative="abs", class_weight={"signal": 4.0}, classes=("background", "signal")
    )
    np.testing.assert_array_equal(got, [2.0, 1.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(
        training_weights(Y, W, negative="abs", class_weight={0: 0.5}), [1.0, 0.5, 1.5, 0.5, 0.25]
    )
    with pytest.raises(ConfigError, match="did you mean 'signal'"):
        training_weights(Y, W, class_weight={"signall": 2.0}, classes=("background", "signal"))


def test_class_with_no_positive_total_is_refused() -> None:
    w = np.array([2.0, -1.0, 3.0, 0.25, -0.5])  # signal sums to -0.25 when kept
    ds = Dataset(X=np.zeros((5, 1), dtype=np.float32), y=Y, weight=w, feature_names=("a",))
    with pytest.raises(DataError, match=r"class 'signal' has total training weight -0\.25"):
        ds.training_weight(negative="keep", balance_classes=True)
    with pytest.raises(DataError, match="negative_weights='abs'"):
        ds.training_weight(negative="keep")  # same rule with or without balancing
    np.testing.assert_array_equal(ds.training_weight(negative="drop"), [2.0, 0.0, 3.0, 0.25, 0.0])
    np.testing.assert_array_equal(ds.training_weight(negative="abs"), np.abs(w))
    with pytest.raises(ConfigError, match="did you mean 'abs'"):
        ds.training_weight(negative="ab")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'balanced'"):
        training_weights(Y, W, class_weight="balance")
