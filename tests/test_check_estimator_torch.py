"""scikit-learn's ``check_estimator`` suite on the torch families (mlp, pnn): the settings and
expected failures of ``test_check_estimator.py``; this module imports torch, so an install
without the torch extra skips it whole (tests/conftest.py).

The pNN needs ``param=`` in ``fit`` and ``predict_proba``, which the suite cannot pass: it is
checked through an adapter that gives every event the same mass (``_OneMassPNN``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch  # noqa: F401  (the torch extra: without it this module is skipped whole)
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import _num_samples

import hepsift.models as models
from hepsift.models.pnn import PNN
from hepsift.models.sets import DeepSets
from test_check_estimator import PARAMS, TORCH, _expected


class _OneMassPNN(PNN):
    """The pNN with one fixed mass for every event, so the suite can call it without param=."""

    def fit(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> _OneMassPNN:
        n = _num_samples(X)
        super().fit(X, y, sample_weight, param=np.full(n, 500.0))
        return self

    def predict_proba(self, X: ArrayLike, param: Any = None) -> NDArray[np.float64]:
        return super().predict_proba(X, 500.0 if param is None else param)

    def predict(self, X: ArrayLike, param: Any = None) -> NDArray[Any]:
        return super().predict(X, 500.0 if param is None else param)

    def decision_score(self, X: ArrayLike, param: Any = None) -> NDArray[np.float64]:
        return super().decision_score(X, 500.0 if param is None else param)

    def score(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **_: Any
    ) -> float:
        return super().score(X, y, sample_weight, param=500.0)


def _objects_of(X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]] | None:
    """One object per feature (one field), or None when X is not a 2-D numeric array."""
    try:
        arr = np.asarray(X)
        if arr.dtype.kind == "O":
            arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.dtype.kind not in "biuf":
        return None
    return arr[:, :, None], np.ones(arr.shape, dtype=bool)


class _FeatureSetDeepSets(DeepSets):
    """DeepSets whose objects are the features of X (one field each), so the suite can call
    it without objects=."""

    def fit(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> _FeatureSetDeepSets:
        super().fit(X, y, sample_weight, objects=_objects_of(X))
        return self

    def predict_proba(self, X: ArrayLike, objects: Any = None) -> NDArray[np.float64]:
        return super().predict_proba(X, _objects_of(X) if objects is None else objects)

    def predict(self, X: ArrayLike, objects: Any = None) -> NDArray[Any]:
        return super().predict(X, objects)

    def decision_score(self, X: ArrayLike, objects: Any = None) -> NDArray[np.float64]:
        return super().decision_score(X, objects)

    def score(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **_: Any
    ) -> float:
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return float(np.average(self.predict(X) == np.asarray(y), weights=w))


def test_the_torch_families_are_these() -> None:
    assert {"mlp", "pnn", "deepsets"} == set(TORCH)


@pytest.mark.slow
@parametrize_with_checks([models.create("mlp", **PARAMS["mlp"])], expected_failed_checks=_expected)
def test_sklearn_checks_mlp(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([_OneMassPNN(**PARAMS["pnn"])], expected_failed_checks=_expected)
def test_sklearn_checks_pnn(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [_FeatureSetDeepSets(**PARAMS["deepsets"])], expected_failed_checks=_expected
)
def test_sklearn_checks_deepsets(estimator: Any, check: Any) -> None:
    check(estimator)
