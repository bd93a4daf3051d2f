"""Weighted PCA and weighted Fisher LDA: transformers fit with event weights, saved as NPZ.

Both take ``sample_weight`` (MC weights; the scatter matrices use ``|w|``, since a negative
weight would make a covariance indefinite). With unit weights :class:`PCA` equals
scikit-learn's ``PCA`` (components, explained variance, projection; signs follow scikit-learn's
``svd_flip`` rule: the largest-magnitude loading of each component is positive) and
:class:`LDA` gives scikit-learn's ``LinearDiscriminantAnalysis`` directions, which cannot take
weights. ``save(path)`` writes one ``.npz`` (no pickle); ``load(path)`` reads it back and
``transform`` applies the projection to new data. ``standardize=True`` divides each
centred feature by its weighted standard deviation first (features in different units).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift._files import atomic_write_bytes
from hepsift.errors import ConfigError, DataError, ModelError, one_line

__all__ = ["LDA", "PCA", "load_transformer"]

F64 = NDArray[np.float64]


def _inputs(X: ArrayLike, sample_weight: ArrayLike | None) -> tuple[F64, F64]:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise DataError(f"X must be a 2-D array with at least 2 events; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError("X contains NaN or inf; impute or drop those events first")
    if sample_weight is None:
        return arr, np.ones(arr.shape[0])
    w = np.abs(np.asarray(sample_weight, dtype=np.float64).reshape(-1))
    if w.shape != (arr.shape[0],) or not np.all(np.isfinite(w)) or not w.sum() > 0:
        raise DataError(
            f"sample_weight must be {arr.shape[0]} finite numbers with a positive total"
        )
    return arr, w


def _flip(components: F64) -> F64:
    """scikit-learn's sign rule: the largest |loading| of each row is positive."""
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1.0
    return np.asarray(components * signs[:, None], dtype=np.float64)


def _weighted_cov(X: F64, w: F64, mean: F64) -> F64:
    d = X - mean
    return np.asarray((d * w[:, None]).T @ d, dtype=np.float64)


class _Transformer:
    """Shared: the learned arrays, transform, NPZ save/load."""

    kind: ClassVar[str] = ""
    _arrays: ClassVar[tuple[str, ...]] = ()
    mean_: F64
    scale_: F64
    components_: F64
    standardize: bool

    def _standardise(self, arr: F64, w: F64) -> F64:
        """Set ``mean_`` and ``scale_`` (weighted std with ``standardize``, else ones); return
        the centred (and scaled) events."""
        self.mean_ = (w @ arr) / w.sum()
        centred = arr - self.mean_
        self.scale_ = np.ones(arr.shape[1])
        if self.standardize:
            std = np.sqrt((w @ centred**2) / w.sum())
            self.scale_ = np.where(std > 0, std, 1.0)
        return np.asarray(centred / self.scale_, dtype=np.float64)

    def transform(self, X: ArrayLike) -> F64:
        """Project ``X`` (n, d) onto the learned components: (n, n_components)."""
        if not hasattr(self, "components_"):
            raise ModelError(f"{self.kind} is not fitted; call fit(X) first")
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.mean_.shape[0]:
            raise DataError(
                f"{self.kind}.transform: X has shape {arr.shape}; expected (n, {self.mean_.shape[0]})"
            )
        return np.asarray(((arr - self.mean_) / self.scale_) @ self.components_.T, dtype=np.float64)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted transformer to one ``.npz`` file (atomic, no pickle)."""
        if not hasattr(self, "components_"):
            raise ModelError(f"{self.kind} is not fitted; call fit(X) first")
        buf = io.BytesIO()
        arrays: dict[str, Any] = {name: np.asarray(getattr(self, name)) for name in self._arrays}
        np.savez(buf, kind=np.asarray(self.kind), **arrays)
        return atomic_write_bytes(path, buf.getvalue())


class PCA(_Transformer):
    """Weighted principal component analysis (see the module docstring)."""

    kind: ClassVar[str] = "pca"
    _arrays: ClassVar[tuple[str, ...]] = (
        "mean_",
        "scale_",
        "components_",
        "explained_variance_",
        "explained_variance_ratio_",
    )

    def __init__(self, n_components: int | None = None, *, standardize: bool = False) -> None:
        self.n_components = n_components
        self.standardize = standardize

    def fit(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> PCA:
        arr, w = _inputs(X, sample_weight)
        d = arr.shape[1]
        k = d if self.n_components is None else int(self.n_components)
        if not 1 <= k <= d:
            raise ConfigError(f"PCA n_components={self.n_components} must be in [1, {d}]")
        total = w.sum()
        Z = self._standardise(arr, w)
        # unbiased for reliability weights: sum(w) - sum(w^2)/sum(w) is n - 1 for unit weights
        dof = total - (w @ w) / total
        cov = _weighted_cov(Z, w, np.zeros(d)) / dof
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        values = np.clip(values[order], 0.0, None)
        self.components_ = _flip(vectors[:, order].T[:k])
        self.explained_variance_ = values[:k]
        self.explained_variance_ratio_ = values[:k] / values.sum()
        return self


class LDA(_Transformer):
    """Weighted Fisher linear discriminant analysis.

    Within-class scatter ``S_w = sum_k sum_{i in k} w_i (x_i - mu_k)(x_i - mu_k)^T`` and
    between-class scatter ``S_b = sum_k W_k (mu_k - mu)(mu_k - mu)^T`` (weighted means and class
    totals); the directions solve ``S_b v = lambda S_w v`` (at most ``n_classes - 1``), sorted by
    ``lambda`` (``explained_variance_ratio_``), each normalised to unit length.
    """

    kind: ClassVar[str] = "lda"
    _arrays: ClassVar[tuple[str, ...]] = (
        "mean_",
        "scale_",
        "components_",
        "explained_variance_ratio_",
        "classes_",
    )

    def __init__(
        self, n_components: int | None = None, *, shrinkage: float = 0.0, standardize: bool = False
    ) -> None:
        self.n_components = n_components
        self.shrinkage = shrinkage
        self.standardize = standardize

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> LDA:
        from scipy.linalg import eigh

        arr, w = _inputs(X, sample_weight)
        labels = np.asarray(y).reshape(-1)
        if labels.shape != (arr.shape[0],):
            raise DataError(f"y has shape {labels.shape}; expected ({arr.shape[0]},)")
        self.classes_ = np.unique(labels)
        n_classes, d = len(self.classes_), arr.shape[1]
        if n_classes < 2:
            raise DataError("LDA needs events of at least two classes")
        k_max = min(n_classes - 1, d)
        k = k_max if self.n_components is None else int(self.n_components)
        if not 1 <= k <= k_max:
            raise ConfigError(f"LDA n_components={self.n_components} must be in [1, {k_max}]")
        arr = self._standardise(arr, w)
        centre = np.zeros(d)
        s_w = np.zeros((d, d))
        s_b = np.zeros((d, d))
        for c in self.classes_:
            m = labels == c
            wc = w[m]
            if not wc.sum() > 0:
                raise DataError(f"class {c!r} has no positive weight")
            mu = (wc @ arr[m]) / wc.sum()
            s_w += _weighted_cov(arr[m], wc, mu)
            diff = (mu - centre)[:, None]
            s_b += wc.sum() * (diff @ diff.T)
        if self.shrinkage:
            s_w = (1 - self.shrinkage) * s_w + self.shrinkage * np.trace(s_w) / d * np.eye(d)
        try:
            values, vectors = eigh(s_b, s_w)
        except np.linalg.LinAlgError as exc:
            raise DataError(
                f"LDA: the within-class scatter is singular ({one_line(exc, 80)}); drop "
                "constant or duplicated features or set shrinkage > 0"
            ) from None
        order = np.argsort(values)[::-1][:k]
        vecs = vectors[:, order].T
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        self.components_ = _flip(vecs)
        positive = np.clip(values[np.argsort(values)[::-1][:k_max]], 0.0, None)
        self.explained_variance_ratio_ = positive[:k] / max(positive.sum(), 1e-300)
        return self


def load_transformer(path: str | os.PathLike[str]) -> PCA | LDA:
    """Read a transformer written by ``PCA.save`` / ``LDA.save`` (``allow_pickle=False``)."""
    from hepsift.models.base import read_npz

    data = read_npz(Path(path), "a PCA/LDA transformer")
    kind = str(data.get("kind", ""))
    out: Any = PCA() if kind == "pca" else LDA() if kind == "lda" else None
    if out is None:
        raise ModelError(f"'{path}' is not a hepsift PCA/LDA file (kind {kind[:20]!r})")
    for name in out._arrays:
        if name not in data:
            raise ModelError(f"'{path}' lacks the array '{name}'")
        setattr(out, name, np.asarray(data[name]))
    mean, comps = out.mean_, out.components_
    if mean.ndim != 1 or comps.ndim != 2 or comps.shape[1] != mean.shape[0]:
        raise ModelError(f"'{path}': components {comps.shape} do not fit the mean {mean.shape}")
    if out.scale_.shape != mean.shape or np.any(out.scale_ <= 0):
        raise ModelError(f"'{path}': the scale must hold {mean.shape[0]} positive numbers")
    out.n_components = int(comps.shape[0])
    return out  # type: ignore[no-any-return]
