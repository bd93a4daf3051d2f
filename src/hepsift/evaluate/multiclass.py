"""Multi-class summaries of one model on the test split: the confusion matrix normalised to
the expected yields, and per-class one-vs-rest AUCs with bootstrap intervals.

- :func:`yield_fractions`: each row of the expected-yields confusion matrix (true class,
  weights scaled to the full expected yield of its sample) divided by that row's total: the
  fraction of each true class's expected events that lands in each predicted class (the
  weight table of a production-mode analysis).
- :func:`per_class_auc_intervals`: the central 68 % of a weighted Poisson bootstrap of each
  class's one-vs-rest AUC (column c of the probabilities, class c against the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift import metrics
from hepsift.evaluate.stats import poisson_bootstrap

__all__ = ["per_class_auc_intervals", "yield_fractions"]


def yield_fractions(cm_yield: ArrayLike) -> list[list[float]]:
    """Rows of ``cm_yield`` divided by their totals (NaN for a row without yield)."""
    cm = np.asarray(cm_yield, dtype=np.float64)
    row = cm.sum(axis=1, keepdims=True)
    out = np.divide(cm, row, out=np.full_like(cm, np.nan), where=row != 0)
    return [[float(v) for v in r] for r in out]


def per_class_auc_intervals(
    y: NDArray[np.int64],
    proba: NDArray[np.float64],
    weight: NDArray[np.float64],
    class_names: Sequence[str],
    *,
    n: int,
    seed: int | np.random.Generator = 0,
) -> dict[str, list[float]]:
    """Class name -> [low, high]: the 16 % and 84 % quantiles of the class's one-vs-rest AUC
    over ``n`` Poisson-bootstrap replicas of ``weight`` (the AUC itself twice when n <= 0)."""
    scorer = metrics.OvrAucScorer(y, proba)
    classes = sorted(scorer(weight[None, :])[1])
    if not classes:
        return {}

    def stat(W: NDArray[np.float64]) -> NDArray[Any]:
        per = scorer(W)[1]
        return np.column_stack([per[c] for c in classes])

    if n <= 0:
        point = stat(weight[None, :])[0]
        return {class_names[c]: [float(a), float(a)] for c, a in zip(classes, point, strict=True)}
    reps = poisson_bootstrap(stat, weight, n=n, seed=seed)
    out: dict[str, list[float]] = {}
    for j, c in enumerate(classes):
        v = reps[:, j]
        v = v[np.isfinite(v)]
        low, high = np.quantile(v, [0.16, 0.84]) if v.size else (np.nan, np.nan)
        out[class_names[c]] = [float(low), float(high)]
    return out
