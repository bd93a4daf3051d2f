"""Cross-validation and learning curves against scikit-learn references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

import hepsift.models as models
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError
from hepsift.tuning import cross_validate, learning_curve


def _dataset(rng: np.random.Generator, n: int = 2000, k: int = 2) -> Dataset:
    X = rng.normal(size=(n, 4)).astype(np.float32)
    if k == 2:
        y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(np.int64)
        names: tuple[str, ...] = ("background", "signal")
    else:
        y = rng.integers(0, k, n)
        X[:, 0] += y
        names = tuple(f"c{i}" for i in range(k))
    return Dataset(
        X=X,
        y=y,
        weight=rng.uniform(0.5, 2.0, n),
        feature_names=("a", "b", "c", "d"),
        class_names=names,
        event_number=rng.permutation(10 * n)[:n],
    )


def test_cross_validate_matches_manual_folds(rng: np.random.Generator) -> None:
    data = _dataset(rng)
    res = cross_validate(models.create("tree", max_depth=4), data, k=4, keep_models=True)
    assert res.by == "event_number" and len(res.folds) == 4 and len(res.models) == 4
    ref = []
    assert data.event_number is not None
    for i in range(4):
        test = data.event_number % 4 == i
        clf = DecisionTreeClassifier(max_depth=4, min_samples_leaf=20, random_state=0)
        clf.fit(data.X[~test], data.y[~test], sample_weight=data.weight[~test])
        p = clf.predict_proba(data.X[test])[:, 1]
        ref.append(roc_auc_score(data.y[test], p, sample_weight=data.weight[test]))
    np.testing.assert_allclose([f["auc"] for f in res.folds], ref, rtol=1e-10)
    assert res.mean["auc"] == pytest.approx(np.mean(ref))
    assert res.std["auc"] == pytest.approx(np.std(ref, ddof=1))
    assert {"accuracy", "precision", "recall", "f1"} <= set(res.mean)
    assert "±" in res.summary() and res.to_dict()["k"] == 4


def test_cross_validate_multiclass_random_split(rng: np.random.Generator) -> None:
    data = _dataset(rng, 900, k=3)
    data = Dataset(
        X=data.X,
        y=data.y,
        weight=data.weight,
        feature_names=data.feature_names,
        class_names=data.class_names,
    )  # no event numbers -> random folds
    res = cross_validate(models.create("bdt", n_estimators=20, n_jobs=1), data, k=3)
    assert res.by == "random"
    assert 0.6 < res.mean["auc"] <= 1.0 and 0.0 <= res.std["auc"] < 0.1
    with pytest.raises(ConfigError, match="k >= 2"):
        cross_validate(models.create("tree"), data, k=1)


def test_learning_curve(rng: np.random.Generator) -> None:
    train, test = _dataset(rng, 3000).split((0.7, 0.3), seed=1)
    tree = models.create("tree", max_depth=None, min_samples_leaf=1)  # overfits small sets
    lc = learning_curve(tree, train, test, fractions=(1.0, 0.05, 0.3))
    assert lc.fractions == [0.05, 0.3, 1.0]
    assert lc.n_train[-1] == len(train) and lc.n_train[0] == pytest.approx(0.05 * len(train), abs=2)
    gaps = np.array(lc.train_auc) - np.array(lc.test_auc)
    assert np.all(gaps > 0.05)  # an unpruned tree remembers its training events
    assert lc.test_auc[-1] > lc.test_auc[0]  # more data helps
    with pytest.raises(ConfigError, match="fractions"):
        learning_curve(tree, train, test, fractions=(0.0, 1.0))
