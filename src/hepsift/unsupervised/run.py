"""The ``unsupervised:`` section of a run, on the run's prepared Dataset.

:func:`run_unsupervised` takes the section as plain data (``UnsupervisedConfig.model_dump()``,
so this layer does not import the config) and returns a JSON-able result stored under
``unsupervised`` in the run's metrics.json and drawn by :mod:`hepsift.report.unsupervised`:

- ``kind: anomaly``: :func:`hepsift.unsupervised.study.anomaly_study` on the binary task's
  events (class ``signal``, else label 1, is the injected signal);
- ``kind: explore``: weighted PCA and LDA of the standardised features (explained variance,
  the first two projections of up to 2000 events per class for the figures), and each
  clustering method on at most ``max_events`` events drawn with the run's seed (k-means: k by
  silhouette; DBSCAN: eps from the k-distance quantile) with its purity table. With ``out``
  the fitted PCA and LDA are written there as ``pca.npz`` and ``lda.npz``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import DataError

__all__ = ["run_unsupervised"]

_PLOTTED = 2000  # events per class kept for the projection figures


def _null_log(message: str) -> None:
    del message


def run_unsupervised(
    section: Mapping[str, Any],
    dataset: Any,
    *,
    seed: int = 0,
    log: Callable[[str], None] = _null_log,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run the section on ``dataset`` (see the module docstring)."""
    if section["kind"] == "anomaly":
        return _anomaly(section, dataset, seed=seed, log=log)
    return _explore(section, dataset, seed=seed, log=log, out=out)


def _anomaly(
    section: Mapping[str, Any], ds: Any, *, seed: int, log: Callable[[str], None]
) -> dict[str, Any]:
    from hepsift.unsupervised.study import anomaly_study

    names = list(ds.class_names)
    if len(names) != 2:
        raise DataError(
            f"unsupervised kind 'anomaly' needs a binary task (background, signal); the run "
            f"has classes {names}"
        )
    signal = names.index("signal") if "signal" in names else 1
    result = anomaly_study(
        ds.X,
        (np.asarray(ds.y) == signal).astype(np.int64),
        list(ds.feature_names),
        resonance=section["resonance"],
        signal_region=tuple(section["signal_region"]),
        sidebands=[tuple(s) for s in section["sidebands"]],
        injection=section["injection"],
        max_correlation=section["max_correlation"],
        folds=section["folds"],
        cwola=section["cwola"],
        detectors=section["detectors"],
        supervised=section["supervised"],
        keep_fractions=section["keep_fractions"],
        seed=seed,
        log=log,
    )
    return {"kind": "anomaly", **result}


def _projection(Z: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    rows = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rows.append(rng.permutation(idx)[:_PLOTTED])
    take = np.sort(np.concatenate(rows))
    return {"points": Z[take, :2].tolist(), "labels": y[take].tolist()}


def _explore(
    section: Mapping[str, Any],
    ds: Any,
    *,
    seed: int,
    log: Callable[[str], None],
    out: Path | None,
) -> dict[str, Any]:
    from hepsift.unsupervised.clustering import cluster, purity_table
    from hepsift.unsupervised.reduction import LDA, PCA

    X = np.asarray(ds.X, dtype=np.float64)
    y = np.asarray(ds.y)
    w = np.asarray(ds.weight, dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = min(int(section["components"]), X.shape[1])
    pca = PCA(k, standardize=True).fit(X, sample_weight=w)
    lda = LDA(standardize=True).fit(X, y, sample_weight=w)
    log(f"unsupervised: PCA explained variance {np.round(pca.explained_variance_ratio_, 3)}")
    result: dict[str, Any] = {
        "kind": "explore",
        "feature_names": list(ds.feature_names),
        "class_names": list(ds.class_names),
        "pca": {
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "components": pca.components_.tolist(),
            "projection": _projection(pca.transform(X), y, rng),
        },
        "lda": {
            "explained_variance_ratio": lda.explained_variance_ratio_.tolist(),
            "components": lda.components_.tolist(),
            "projection": _projection(lda.transform(X), y, rng),
        },
        "clustering": {},
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result["files"] = [pca.save(out / "pca.npz").name, lda.save(out / "lda.npz").name]
    take = np.sort(rng.permutation(len(X))[: int(section["max_events"])])
    Z = (X[take] - pca.mean_) / pca.scale_
    for method in section["clustering"]:
        labels, info = cluster(Z, method, sample_weight=w[take], seed=seed)
        table = purity_table(labels, y[take], sample_weight=w[take], class_names=ds.class_names)
        log(f"unsupervised: {method} ARI {table.ari:.3f}, purity {table.purity:.3f}")
        result["clustering"][method] = {"info": info, "purity": asdict(table)}
    return result
