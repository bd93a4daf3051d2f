"""Scaler: compared with scikit-learn's scalers and with replicated-row weighting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import RobustScaler, StandardScaler

from hepsift.errors import ConfigError, DataError
from hepsift.features import Scaler
from hepsift.features.scaling import weighted_quantile


@pytest.fixture
def X(rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(500, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 100.0, -5.0, 2.0]
    x[:, 3] = rng.exponential(40.0, size=500)  # skewed, like a pT in GeV
    return x


def test_standard_matches_sklearn(X: np.ndarray) -> None:
    ours = Scaler("standard").fit(X)
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(ours.center_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-10, atol=1e-12)
    assert np.all(np.isinf(ours.lo_)) and np.all(np.isinf(ours.hi_))


def test_standard_weighted_matches_sklearn(X: np.ndarray, rng: np.random.Generator) -> None:
    w = rng.uniform(0.1, 3.0, size=len(X))
    ours = Scaler("standard").fit(X, sample_weight=w)
    ref = StandardScaler().fit(X, sample_weight=w)
    np.testing.assert_allclose(ours.center_, ref.mean_, rtol=1e-10)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-10)


def test_robust_matches_sklearn(X: np.ndarray) -> None:
    ours = Scaler("robust").fit(X)
    ref = RobustScaler().fit(X)
    np.testing.assert_allclose(ours.center_, ref.center_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-10, atol=1e-12)


def test_integer_weights_equal_replicated_rows(X: np.ndarray, rng: np.random.Generator) -> None:
    k = rng.integers(1, 4, size=len(X))
    rep = np.repeat(X, k, axis=0)
    a = Scaler("standard").fit(X, sample_weight=k.astype(float))
    b = Scaler("standard").fit(rep)
    np.testing.assert_allclose(a.center_, b.center_, rtol=1e-12)
    np.testing.assert_allclose(a.scale_, b.scale_, rtol=1e-12)
    # weighted quantiles agree with the replicated-rows quantiles to within the sample spacing
    qa = weighted_quantile(X, [0.25, 0.5, 0.75], k.astype(float))
    qb = np.quantile(rep, [0.25, 0.5, 0.75], axis=0)
    spread = np.quantile(rep, 0.75, axis=0) - np.quantile(rep, 0.25, axis=0)
    assert np.all(np.abs(qa - qb) < 0.05 * spread)


def test_weighted_quantile_equal_weights_is_hazen(X: np.ndarray) -> None:
    q = [0.1, 0.5, 0.9]
    got = weighted_quantile(X, q, np.full(len(X), 2.5))
    np.testing.assert_allclose(got, np.quantile(X, q, axis=0, method="hazen"), rtol=1e-12)


def test_clipping_bounds_and_effect(X: np.ndarray) -> None:
    Xo = X.copy()
    Xo[0, 3] = 1e9  # an outlier
    s = Scaler("standard", clip_quantile=0.01).fit(Xo)
    np.testing.assert_allclose(s.lo_, np.quantile(Xo, 0.01, axis=0))
    np.testing.assert_allclose(s.hi_, np.quantile(Xo, 0.99, axis=0))
    Z = s.transform(Xo)
    assert np.all(np.isfinite(Z))
    # the outlier lands on the upper bound, not at 1e9
    assert Z[0, 3] == pytest.approx((s.hi_[3] - s.center_[3]) / s.scale_[3])
    assert np.abs(Z).max() < 10
    # mean of the clipped column is the centre
    clipped = np.clip(Xo, s.lo_, s.hi_)
    np.testing.assert_allclose(s.center_, clipped.mean(axis=0))


def test_float32_in_float32_out_and_constant_column(X: np.ndarray) -> None:
    X32 = X.astype(np.float32)
    X32[:, 2] = 7.0  # zero variance
    s = Scaler("standard").fit(X32)
    Z = s.transform(X32)
    assert Z.dtype == np.float32
    assert s.scale_[2] == 1.0
    np.testing.assert_array_equal(Z[:, 2], 0.0)
    assert s.transform(X.astype(np.float64)).dtype == np.float64
    r = Scaler("robust").fit(X32)
    assert r.scale_[2] == 1.0


def test_none_kind_is_identity_unless_clipped(X: np.ndarray) -> None:
    s = Scaler("none").fit(X)
    np.testing.assert_array_equal(s.transform(X), X)
    c = Scaler("none", clip_quantile=0.05).fit(X)
    assert c.transform(X).max() <= X.max()
    np.testing.assert_allclose(c.transform(X), np.clip(X, c.lo_, c.hi_))


@pytest.mark.parametrize("kind", ["standard", "robust", "none"])
def test_json_round_trip(X: np.ndarray, kind: str) -> None:
    for clip in (None, 0.02):
        s = Scaler(kind, clip_quantile=clip).fit(X)  # type: ignore[arg-type]
        text = json.dumps(s.to_dict())
        back = Scaler.from_dict(json.loads(text))
        assert back.kind == kind and back.clip_quantile == clip
        np.testing.assert_array_equal(back.transform(X), s.transform(X))
        np.testing.assert_allclose(
            back.inverse_transform(back.transform(X)), np.clip(X, s.lo_, s.hi_)
        )


def test_unfitted_state_round_trips_and_refuses_transform(X: np.ndarray) -> None:
    s = Scaler.from_dict(Scaler("robust", clip_quantile=0.1).to_dict())
    assert s.kind == "robust" and s.clip_quantile == 0.1
    with pytest.raises(DataError, match="not fitted"):
        s.transform(X)


def test_errors(X: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="did you mean 'robust'"):
        Scaler("robus")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="clip_quantile"):
        Scaler(clip_quantile=0.7)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match=r"columns \[1\]"):
        Scaler().fit(bad)
    s = Scaler().fit(X)
    with pytest.raises(DataError, match="4 features"):
        s.transform(X[:, :3])
    with pytest.raises(DataError, match="format"):
        Scaler.from_dict({"kind": "standard"})
    with pytest.raises(DataError, match="0 events"):
        Scaler().fit(np.empty((0, 3)))
