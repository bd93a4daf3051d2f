"""Exploratory feature plots: histogram contents and weighted correlations vs references."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepsift.errors import ConfigError, DataError
from hepsift.plots.features import (
    correlation_matrix,
    feature_by_class,
    feature_grid,
    weighted_correlation,
)


def test_weighted_correlation_matches_numpy(rng: np.random.Generator) -> None:
    X = rng.normal(size=(400, 3))
    X[:, 1] += 0.8 * X[:, 0]
    X = np.column_stack([X, np.full(400, 2.0)])  # constant column
    c = weighted_correlation(X)
    np.testing.assert_allclose(c[:3, :3], np.corrcoef(X[:, :3], rowvar=False), atol=1e-12)
    assert c[3, 3] == 1.0 and np.all(c[3, :3] == 0.0)
    k = rng.integers(1, 4, 400)
    np.testing.assert_allclose(
        weighted_correlation(X[:, :3], k.astype(float)),
        np.corrcoef(np.repeat(X[:, :3], k, axis=0), rowvar=False),
        atol=1e-12,
    )


def test_feature_by_class_is_normalised_weighted_histogram(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.normal(125, 2, 300), rng.exponential(30, 700) + 100])
    y = np.r_[np.ones(300, int), np.zeros(700, int)]
    w = rng.uniform(0.5, 2.0, 1000)
    fig, ax = plt.subplots()
    arts = feature_by_class(
        x, y, w, name="m_gg", unit="GeV", value_range=(100, 160), bins=30, ax=ax
    )
    assert len(arts) == 2
    edges = np.linspace(100, 160, 31)
    for k, art in enumerate(arts):
        vals = art.get_data().values
        m = y == k
        ref, _ = np.histogram(np.clip(x[m], 100, 160), bins=edges, weights=w[m])
        np.testing.assert_allclose(vals, ref / (ref.sum() * 2.0))
        assert np.sum(vals * 2.0) == pytest.approx(1.0)
    assert ax.get_xlabel() == "m_gg [GeV]"
    with pytest.raises(DataError):
        feature_by_class(x, y[:10], ax=ax)
    plt.close(fig)


def test_grid_and_correlation_matrix_per_class(rng: np.random.Generator) -> None:
    X = rng.normal(size=(200, 4))
    y = rng.integers(0, 2, 200)
    names = ["a", "b", "c", "d"]
    arts = feature_grid(X, y, feature_names=names)
    assert len(arts) == 8
    plt.close("all")
    fig, ax = plt.subplots()
    out = correlation_matrix(X, y, feature_names=names, class_index=1, ax=ax)
    np.testing.assert_allclose(out[0].get_array(), weighted_correlation(X[y == 1]))
    assert len(out) == 2 + 16 and ax.get_title() == "signal"
    with pytest.raises(ConfigError):
        correlation_matrix(X, None, feature_names=names, class_index=0, ax=ax)
    with pytest.raises(DataError):
        correlation_matrix(X, feature_names=names[:3], ax=ax)
    plt.close(fig)
