"""Weighted PCA / LDA against scikit-learn with unit weights; clustering on toy blobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA as SkPCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from hepsift.errors import ConfigError, DataError, ModelError
from hepsift.unsupervised.clustering import choose_eps, cluster, purity_table
from hepsift.unsupervised.reduction import LDA, PCA, load_transformer


def _data(seed: int = 0, n: int = 400, d: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return np.asarray(rng.normal(size=(n, d)) @ A + rng.normal(size=d), dtype=np.float64)


def test_pca_equals_sklearn_with_unit_weights() -> None:
    X = _data()
    ours = PCA(3).fit(X, sample_weight=np.ones(len(X)))
    ref = SkPCA(3, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, atol=1e-6
    )
    assert ours.explained_variance_.sum() < _total_var(X)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-6)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-6)


def _total_var(X: np.ndarray) -> float:
    return float(np.var(X, axis=0, ddof=1).sum())


def test_pca_integer_weights_equal_repeated_events() -> None:
    X = _data(1, n=200)
    w = np.random.default_rng(2).integers(1, 4, size=len(X))
    weighted = PCA(2).fit(X, sample_weight=w)
    repeated = PCA(2).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.components_, repeated.components_, atol=1e-8)
    np.testing.assert_allclose(weighted.mean_, repeated.mean_, atol=1e-10)


def test_lda_direction_equals_sklearn_with_unit_weights() -> None:
    rng = np.random.default_rng(3)
    X = _data(3, n=600, d=4)
    y = (X @ np.array([1.0, -0.5, 0.2, 0.0]) + rng.normal(size=600) > 0).astype(int)
    ours = LDA().fit(X, y, sample_weight=np.ones(len(X)))
    ref = LinearDiscriminantAnalysis().fit(X, y)
    a = ours.components_[0]
    b = ref.coef_[0] / np.linalg.norm(ref.coef_[0])
    assert abs(float(a @ b)) == pytest.approx(1.0, abs=1e-9)
    # three classes: the same subspace as scikit-learn's eigen solver, component by component
    y3 = np.digitize(X[:, 0] + 0.3 * X[:, 1], np.quantile(X[:, 0], [0.33, 0.66]))
    ours3 = LDA().fit(X, y3)
    ref3 = LinearDiscriminantAnalysis(solver="eigen").fit(X, y3)
    for i in range(2):
        r = ref3.scalings_[:, i] / np.linalg.norm(ref3.scalings_[:, i])
        assert abs(float(ours3.components_[i] @ r)) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(
        ours3.explained_variance_ratio_, ref3.explained_variance_ratio_, atol=1e-6
    )


def test_weights_change_the_lda_direction() -> None:
    X = _data(4, n=400, d=3)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    w = np.where(X[:, 1] > 0, 5.0, 0.2)
    a = LDA().fit(X, y).components_[0]
    b = LDA().fit(X, y, sample_weight=w).components_[0]
    assert abs(float(a @ b)) < 1 - 1e-4


def test_transformers_round_trip_as_npz(tmp_path: Path) -> None:
    X = _data(5)
    y = (X[:, 0] > 0).astype(int)
    for t in (PCA(2).fit(X), LDA().fit(X, y)):
        path = t.save(tmp_path / f"{t.kind}.npz")
        back = load_transformer(path)
        assert type(back) is type(t)
        np.testing.assert_array_equal(back.transform(X), t.transform(X))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError):
        load_transformer(tmp_path / "bad.npz")


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="n_components"):
        PCA(9).fit(_data())
    with pytest.raises(DataError, match="NaN"):
        PCA().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(DataError, match="two classes"):
        LDA().fit(_data(), np.zeros(400))
    with pytest.raises(ConfigError, match="dbscn"):
        cluster(_data(), "dbscn")


def test_kmeans_recovers_separated_blobs() -> None:
    X, y = make_blobs(n_samples=600, centers=4, cluster_std=0.6, random_state=7)
    labels, info = cluster(X, "kmeans", seed=1)
    assert info["k"] == 4 and info["criterion"] == "silhouette"
    scan = info["scan"]
    assert scan["ks"] == list(range(2, 9)) and scan["inertia"][0] > scan["inertia"][-1]
    assert max(scan["silhouette"]) == scan["silhouette"][2]
    table = purity_table(labels, y, sample_weight=np.ones(len(y)))
    assert table.ari > 0.95
    assert table.purity > 0.97
    np.testing.assert_allclose([sum(f) for f in table.fractions], 1.0)


def test_density_methods_find_the_blobs() -> None:
    X, y = make_blobs(n_samples=450, centers=3, cluster_std=0.4, random_state=3)
    assert choose_eps(X, min_samples=8) > 0
    for method in ("dbscan", "hdbscan"):
        labels, info = cluster(X, method, min_samples=8)
        assert info["method"] == method
        assert purity_table(labels, y).ari > 0.8


def test_cluster_purity_plot_stacks_the_fractions_of_each_cluster() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hepsift.plots.unsupervised import cluster_purity

    fig, ax = plt.subplots()
    fractions = [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]
    artists = cluster_purity([-1, 0, 1], fractions, ["bkg", "sig"], weights=[1, 2, 1], ax=ax)
    heights = np.array([[bar.get_height() for bar in container] for container in artists]).T
    assert np.allclose(heights, fractions)  # one stacked bar per cluster, classes in order
    assert [t.get_text() for t in ax.get_xticklabels()] == ["noise", "0", "1"]
    assert [t.get_text() for t in ax.texts] == ["25%", "50%", "25%"]
    plt.close(fig)
