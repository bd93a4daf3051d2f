"""Clustering of events: weighted k-means, DBSCAN and HDBSCAN (scikit-learn underneath).

Criteria, documented once:

- **k for k-means**: :func:`choose_k` fits k = k_min..k_max and keeps the k with the largest
  mean silhouette coefficient (computed on at most ``silhouette_sample`` events drawn with a
  seeded generator; scikit-learn's silhouette takes no weights). The weighted inertia of every k
  is returned too (the *elbow* curve, drawn in the report) but does not choose.
- **eps for DBSCAN**: :func:`choose_eps` takes the ``quantile`` (default 0.9) of the distances
  of each event to its ``min_samples``-th neighbour (the knee of the k-distance plot in the
  DBSCAN paper, read at a fixed quantile so it is reproducible). DBSCAN takes weights (a
  core point needs ``min_samples`` of weight); HDBSCAN takes none (documented by scikit-learn).
- **purity**: :func:`purity_table` compares clusters with the true process labels: the adjusted
  Rand index (unweighted, scikit-learn) and, per cluster, the weighted fraction of each class
  (negative MC weights count with their sign, as everywhere in evaluation).

Features should be standardised first (distances mix units otherwise): the functions take the
matrix as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = [
    "ClusterChoice",
    "Purity",
    "choose_eps",
    "choose_k",
    "cluster",
    "kmeans",
    "purity_table",
]

METHODS = ("kmeans", "dbscan", "hdbscan")


def _matrix(X: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise DataError(f"X must be 2-D with at least 2 events; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError("X contains NaN or inf; impute or drop those events first")
    return arr


def _weights(sample_weight: ArrayLike | None, n: int) -> NDArray[np.float64] | None:
    if sample_weight is None:
        return None
    w = np.abs(np.asarray(sample_weight, dtype=np.float64).reshape(-1))
    if w.shape != (n,) or not np.all(np.isfinite(w)):
        raise DataError(f"sample_weight must hold {n} finite numbers")
    return w


def kmeans(
    X: ArrayLike, k: int, *, sample_weight: ArrayLike | None = None, seed: int = 0
) -> tuple[NDArray[np.int64], float, NDArray[np.float64]]:
    """Weighted k-means (``|w|``): (labels, weighted inertia, centres)."""
    from sklearn.cluster import KMeans

    arr = _matrix(X)
    if not 1 <= int(k) <= arr.shape[0]:
        raise ConfigError(f"k-means k={k} must be in [1, {arr.shape[0]}] (the number of events)")
    from threadpoolctl import threadpool_limits

    km = KMeans(n_clusters=int(k), n_init=4, random_state=int(seed))
    # one OpenMP/BLAS thread: small fits beside other work spin-wait badly when threaded
    with threadpool_limits(1):
        km.fit(arr, sample_weight=_weights(sample_weight, arr.shape[0]))
    return km.labels_.astype(np.int64), float(km.inertia_), km.cluster_centers_


@dataclass
class ClusterChoice:
    """The scan behind a choice of k: silhouette and inertia (elbow) per k."""

    ks: list[int]
    silhouette: list[float]
    inertia: list[float]
    best_k: int


def choose_k(
    X: ArrayLike,
    *,
    k_min: int = 2,
    k_max: int = 8,
    sample_weight: ArrayLike | None = None,
    silhouette_sample: int = 2000,
    seed: int = 0,
) -> ClusterChoice:
    """The k of largest silhouette in [k_min, k_max] (see the module docstring)."""
    from sklearn.metrics import silhouette_score

    arr = _matrix(X)
    if not 2 <= k_min <= k_max < arr.shape[0]:
        raise ConfigError(f"need 2 <= k_min <= k_max < n_events; got {k_min}, {k_max}")
    rng = np.random.default_rng(seed)
    take = rng.permutation(arr.shape[0])[: min(silhouette_sample, arr.shape[0])]
    ks = list(range(int(k_min), int(k_max) + 1))
    sil, inertia = [], []
    for k in ks:
        labels, inert, _ = kmeans(arr, k, sample_weight=sample_weight, seed=seed)
        inertia.append(inert)
        sub = labels[take]
        sil.append(float(silhouette_score(arr[take], sub)) if len(np.unique(sub)) > 1 else -1.0)
    return ClusterChoice(ks, sil, inertia, ks[int(np.argmax(sil))])


def choose_eps(X: ArrayLike, *, min_samples: int = 10, quantile: float = 0.9) -> float:
    """DBSCAN's eps: the ``quantile`` of the ``min_samples``-th-neighbour distances."""
    from sklearn.neighbors import NearestNeighbors

    arr = _matrix(X)
    k = min(int(min_samples), arr.shape[0] - 1)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(arr).kneighbors(arr)
    return float(np.quantile(dist[:, k], quantile))


def cluster(
    X: ArrayLike,
    method: str = "kmeans",
    *,
    sample_weight: ArrayLike | None = None,
    k: int | None = None,
    min_samples: int = 10,
    eps: float | None = None,
    seed: int = 0,
) -> tuple[NDArray[np.int64], dict[str, Any]]:
    """Cluster labels (-1: noise for the density methods) and what was chosen and how."""
    from sklearn.cluster import DBSCAN, HDBSCAN

    arr = _matrix(X)
    if method == "kmeans":
        info: dict[str, Any] = {"method": method}
        if k is None:
            choice = choose_k(arr, sample_weight=sample_weight, seed=seed)
            k = choice.best_k
            info.update(criterion="silhouette", scan=choice.__dict__)
        labels, inertia, _ = kmeans(arr, k, sample_weight=sample_weight, seed=seed)
        return labels, {**info, "k": int(k), "inertia": inertia}
    if method == "dbscan":
        e = choose_eps(arr, min_samples=min_samples) if eps is None else float(eps)
        db = DBSCAN(eps=e, min_samples=int(min_samples))
        db.fit(arr, sample_weight=_weights(sample_weight, arr.shape[0]))
        labels = db.labels_.astype(np.int64)
        return labels, {"method": method, "eps": e, "min_samples": int(min_samples)}
    if method == "hdbscan":
        hd = HDBSCAN(min_cluster_size=max(int(min_samples), 2), copy=True)
        labels = hd.fit_predict(arr).astype(np.int64)
        return labels, {"method": method, "min_cluster_size": max(int(min_samples), 2)}
    from hepsift.errors import suggest

    raise ConfigError(f"clustering method '{method}'{suggest(method, METHODS)} (known: {METHODS})")


@dataclass
class Purity:
    """Clusters against the true classes."""

    ari: float
    clusters: list[int]
    class_names: list[str]
    #: fractions[i][j]: weighted fraction of class j in cluster clusters[i]
    fractions: list[list[float]]
    #: total weight per cluster
    weight: list[float]
    #: the weighted mean over clusters of the largest class fraction
    purity: float = field(default=float("nan"))


def purity_table(
    labels: ArrayLike,
    y_true: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
) -> Purity:
    """Adjusted Rand index and the weighted per-cluster class fractions (module docstring)."""
    from sklearn.metrics import adjusted_rand_score

    lab = np.asarray(labels).reshape(-1)
    yt = np.asarray(y_true).reshape(-1)
    if lab.shape != yt.shape:
        raise DataError(f"labels {lab.shape} and y_true {yt.shape} differ in length")
    w = np.ones(lab.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    classes = np.unique(yt)
    names = [str(c) for c in classes] if class_names is None else [str(c) for c in class_names]
    clusters = sorted(int(c) for c in np.unique(lab))
    fractions, totals = [], []
    for c in clusters:
        m = lab == c
        tot = float(w[m].sum())
        totals.append(tot)
        fractions.append([float(w[m & (yt == k)].sum() / tot) if tot else 0.0 for k in classes])
    tw = np.asarray(totals)
    best = np.asarray([max(f) for f in fractions])
    purity = float((best * tw).sum() / tw.sum()) if tw.sum() else float("nan")
    return Purity(float(adjusted_rand_score(yt, lab)), clusters, names, fractions, totals, purity)
