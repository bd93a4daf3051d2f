"""Weighted statistics of classifier scores: the Poisson bootstrap, AUC intervals, weighted KS.

All functions take the physics event weights (may be negative: MC weights). AUCs come from the
one implementation in :mod:`hepsift.metrics` (:class:`~hepsift.metrics.AucScorer`: the
probability that a signal event scores above a background event, ties counting one half, each
pair weighted by the product of the two event weights).

The bootstrap (:func:`poisson_bootstrap`) is the HEP one: each replica multiplies every event
weight by an independent Poisson(1) count. Replicas are drawn in batches of at most
``max_elements`` counts (rows x events), so a million-event test split never holds a
(replicas, events) array; the counts are drawn row after row from one generator, so the
replicas do not depend on the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import kolmogorov

from hepsift.errors import DataError
from hepsift.metrics import AucScorer

__all__ = [
    "BOOTSTRAP_MAX_ELEMENTS",
    "KSResult",
    "bootstrap_auc",
    "bootstrap_aucs",
    "effective_size",
    "poisson_bootstrap",
    "weighted_ks",
]

#: Poisson counts (replicas x events) drawn at once: about 8 MB per float64 array; the AUC of
#: one batch holds a few arrays of this size
BOOTSTRAP_MAX_ELEMENTS = 2**20


def _as_1d(name: str, a: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D; got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise DataError(f"{name} has {arr.size} entries; expected {n}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} contains NaN or inf")
    return arr


def _binary_inputs(
    score: ArrayLike, is_signal: ArrayLike, weight: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    s = _as_1d("score", score)
    raw = np.asarray(is_signal)
    if raw.dtype.kind != "b":
        try:
            numeric = raw.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(f"is_signal must be booleans or 0/1; got {raw.dtype}") from None
        bad = ~np.isin(numeric, (0.0, 1.0))
        if bad.any():
            raise DataError(
                f"is_signal must be booleans or 0/1; got values {np.unique(numeric[bad])[:3].tolist()}"
            )
    sig = raw.astype(bool)
    if sig.shape != s.shape:
        raise DataError(f"labels have shape {sig.shape}; scores have {s.shape}")
    w = np.ones_like(s) if weight is None else _as_1d("weight", weight, s.size)
    if not sig.any() or sig.all():
        raise DataError("AUC needs both signal and background events; got only one class")
    return s, sig, w


def poisson_bootstrap(
    statistic: Callable[[NDArray[np.float64]], NDArray[Any]],
    weight: ArrayLike,
    *,
    n: int,
    seed: int | np.random.Generator = 0,
    max_elements: int = BOOTSTRAP_MAX_ELEMENTS,
) -> NDArray[np.float64]:
    """``n`` Poisson-bootstrap replicas of a weighted statistic.

    ``statistic(W)`` maps replica weights ``W`` (rows, events) — the event weights times
    Poisson(1) counts — to one value (or one row of values) per replica; the results of all
    batches are stacked, shape (n, ...). Batches hold at most ``max(1, max_elements // events)``
    replicas, so memory is bounded by ``max_elements`` whatever ``n``. The counts are drawn row
    by row from ``seed`` (a Generator is advanced in place): the same seed gives the same
    replicas for any ``max_elements``.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 1:
        raise DataError(f"bootstrap weights must be 1-D; got shape {w.shape}")
    if int(max_elements) < 1:
        raise DataError(f"max_elements must be >= 1; got {max_elements}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows = max(1, int(max_elements) // max(w.size, 1))
    out: list[NDArray[Any]] = []
    done = 0
    while done < n:
        b = min(rows, n - done)
        W = rng.poisson(1.0, size=(b, w.size)).astype(np.float64)
        W *= w[None, :]
        out.append(np.asarray(statistic(W), dtype=np.float64))
        del W
        done += b
    if not out:
        return np.empty(0)
    return np.concatenate(out)


def bootstrap_aucs(
    scores: Sequence[ArrayLike],
    is_signal: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    n: int = 200,
    seed: int | np.random.Generator = 0,
    max_elements: int = BOOTSTRAP_MAX_ELEMENTS,
) -> list[NDArray[np.float64]]:
    """AUC replicas of several scores of the SAME events under shared Poisson counts (a paired
    bootstrap: differences between the scores keep their correlation). One (n,) array per
    score; a replica without signal or background weight is ``nan``."""
    if not scores:
        return []
    s0, sig, w = _binary_inputs(scores[0], is_signal, weight)
    scorers = [AucScorer(sig, _as_1d("score", s, s0.size), pos_label=True) for s in scores]
    reps = poisson_bootstrap(
        lambda W: np.column_stack([sc(W) for sc in scorers]),
        w,
        n=n,
        seed=seed,
        max_elements=max_elements,
    )
    if reps.size == 0:
        return [np.empty(0) for _ in scores]
    return [reps[:, i].copy() for i in range(len(scores))]


def bootstrap_auc(
    score: ArrayLike,
    is_signal: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    n: int = 200,
    cl: float = 0.68,
    seed: int | np.random.Generator = 0,
    max_elements: int = BOOTSTRAP_MAX_ELEMENTS,
) -> tuple[float, float, NDArray[np.float64]]:
    """Central ``cl`` interval of the weighted AUC from a Poisson bootstrap of the events.

    Each replica multiplies every event weight by an independent Poisson(1) count (the HEP
    bootstrap, equivalent to resampling with replacement for large samples). Returns
    ``(low, high, replicas)`` (undefined replicas dropped); with ``n == 0`` the interval
    collapses to the point estimate.
    """
    s, sig, w = _binary_inputs(score, is_signal, weight)
    if not 0.0 < cl < 1.0:
        raise DataError(f"confidence level must be in (0, 1); got {cl}")
    scorer = AucScorer(sig, s, pos_label=True)
    values = (
        poisson_bootstrap(scorer, w, n=n, seed=seed, max_elements=max_elements)
        if n > 0
        else np.empty(0)
    )
    values = values[np.isfinite(values)]
    if values.size == 0:
        point = float(scorer(w)[0])
        return point, point, values
    alpha = (1.0 - cl) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high), values


# -- Kolmogorov-Smirnov ----------------------------------------------------------------------


def effective_size(weight: ArrayLike) -> float:
    """Kish's effective number of events, (sum w)^2 / sum w^2."""
    w = np.asarray(weight, dtype=np.float64)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov result: sup |F1 - F2|, its p-value and effective sizes."""

    statistic: float
    pvalue: float
    n1_eff: float
    n2_eff: float


def weighted_ks(
    a: ArrayLike,
    b: ArrayLike,
    weight_a: ArrayLike | None = None,
    weight_b: ArrayLike | None = None,
) -> KSResult:
    """Weighted two-sample KS test (e.g. train vs test scores of one class).

    The statistic is the largest distance between the two weighted empirical CDFs (each
    normalised to its total weight), evaluated at every observed value. The asymptotic p-value is
    the Kolmogorov survival function (``scipy.special.kolmogorov``) at ``sqrt(n1 n2 / (n1 + n2)) * D`` with Kish's effective
    sizes n_i = (sum w)^2 / sum w^2; with unit weights this is the classic asymptotic test.
    """
    x1 = _as_1d("sample a", a)
    x2 = _as_1d("sample b", b)
    if x1.size == 0 or x2.size == 0:
        raise DataError(f"KS test needs two non-empty samples; got sizes {x1.size} and {x2.size}")
    w1 = np.ones_like(x1) if weight_a is None else _as_1d("weight_a", weight_a, x1.size)
    w2 = np.ones_like(x2) if weight_b is None else _as_1d("weight_b", weight_b, x2.size)
    t1, t2 = float(w1.sum()), float(w2.sum())
    if t1 <= 0 or t2 <= 0:
        raise DataError(f"KS test needs positive total weights; got {t1:.3g} and {t2:.3g}")
    o1, o2 = np.argsort(x1, kind="mergesort"), np.argsort(x2, kind="mergesort")
    x1s, x2s = x1[o1], x2[o2]
    c1 = np.r_[0.0, np.cumsum(w1[o1])] / t1
    c2 = np.r_[0.0, np.cumsum(w2[o2])] / t2
    grid = np.concatenate([x1s, x2s])
    f1 = c1[np.searchsorted(x1s, grid, side="right")]
    f2 = c2[np.searchsorted(x2s, grid, side="right")]
    d = float(np.max(np.abs(f1 - f2)))
    n1, n2 = effective_size(w1), effective_size(w2)
    en = math.sqrt(n1 * n2 / (n1 + n2)) if n1 + n2 > 0 else 0.0
    return KSResult(statistic=d, pvalue=float(kolmogorov(en * d)), n1_eff=n1, n2_eff=n2)
