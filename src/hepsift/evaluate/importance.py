"""Model-agnostic permutation feature importance: the weighted AUC lost when a column is shuffled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import DataError
from hepsift.metrics import auc_ovr

__all__ = ["Importance", "permutation_importance"]


@dataclass(frozen=True)
class Importance:
    """Mean and spread (std over repeats) of the AUC drop per feature; ``base`` is the AUC."""

    features: tuple[str, ...]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    base: float

    def ranked(self) -> list[tuple[str, float, float]]:
        """(feature, mean drop, std) sorted from the most to the least important."""
        order = np.argsort(-self.mean, kind="mergesort")
        return [(self.features[i], float(self.mean[i]), float(self.std[i])) for i in order]

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {f: {"auc_drop": m, "std": s} for f, m, s in self.ranked()}


def permutation_importance(
    predict_proba: Callable[[NDArray[np.float32]], NDArray[np.float64]],
    X: ArrayLike,
    y: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    feature_names: Sequence[str] | None = None,
    repeats: int = 3,
    max_events: int | None = None,
    seed: int | np.random.Generator = 0,
) -> Importance:
    """AUC drop when each feature column is permuted (model-agnostic; weights respected).

    The AUC is :func:`hepsift.metrics.auc_ovr`: the signal-score AUC of a binary model, the
    mean one-vs-rest AUC of a multi-class one.

    ``predict_proba`` maps X (n, d) to class probabilities (n, k). With ``max_events`` a
    seeded random subset of that size is used, to bound the cost on large test sets.
    """
    Xa = np.asarray(X, dtype=np.float32)
    ya = np.asarray(y).astype(np.int64)
    if Xa.ndim != 2 or ya.shape != (Xa.shape[0],):
        raise DataError(f"X must be (n, d) and y (n,); got {Xa.shape} and {ya.shape}")
    w = np.ones(len(ya)) if weight is None else np.asarray(weight, dtype=np.float64)
    names = tuple(feature_names) if feature_names else tuple(f"x{i}" for i in range(Xa.shape[1]))
    if len(names) != Xa.shape[1]:
        raise DataError(f"{len(names)} feature names for {Xa.shape[1]} columns")
    if repeats < 1:
        raise DataError(f"repeats must be >= 1; got {repeats}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if max_events is not None and len(ya) > max_events:
        idx = np.sort(rng.choice(len(ya), size=max_events, replace=False))
        Xa, ya, w = Xa[idx], ya[idx], w[idx]
    base = auc_ovr(ya, np.asarray(predict_proba(Xa)), sample_weight=w)
    drops = np.zeros((Xa.shape[1], repeats))
    for j in range(Xa.shape[1]):
        for r in range(repeats):
            Xp = Xa.copy()
            Xp[:, j] = Xa[rng.permutation(len(ya)), j]
            drops[j, r] = base - auc_ovr(ya, np.asarray(predict_proba(Xp)), sample_weight=w)
    return Importance(features=names, mean=drops.mean(axis=1), std=drops.std(axis=1), base=base)
