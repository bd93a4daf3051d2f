"""Weighted statistics of classifier scores: batched AUC, bootstrap intervals, weighted KS.

All functions take the physics event weights (may be negative: MC weights). The AUC here is the
probability that a signal event scores above a background event, ties counting one half, with
each pair weighted by the product of the two event weights: the area under the weighted ROC
curve of :func:`hepsift.metrics.roc_curve`. It is computed for many weight vectors at once so that
a bootstrap of a few hundred replicas costs about as much as a few sorts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import DataError

__all__ = [
    "KSResult",
    "bootstrap_auc",
    "effective_size",
    "kolmogorov_sf",
    "weighted_auc",
    "weighted_auc_batch",
    "weighted_ks",
]


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
    sig = np.asarray(is_signal).astype(bool)
    if sig.shape != s.shape:
        raise DataError(f"labels have shape {sig.shape}; scores have {s.shape}")
    w = np.ones_like(s) if weight is None else _as_1d("weight", weight, s.size)
    if not sig.any() or sig.all():
        raise DataError("AUC needs both signal and background events; got only one class")
    return s, sig, w


def weighted_auc_batch(
    score: ArrayLike, is_signal: ArrayLike, weights: ArrayLike
) -> NDArray[np.float64]:
    """Weighted AUC for each row of ``weights`` (shape (B, n)) with shared scores and labels.

    Ties in score count one half. Rows whose signal or background weight sums to zero give NaN.
    """
    s = _as_1d("score", score)
    sig = np.asarray(is_signal).astype(bool)
    W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if W.shape[1] != s.size or sig.shape != s.shape:
        raise DataError(f"weights of shape {W.shape} do not match {s.size} scores")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sig_sorted = sig[order]
    Ws = np.where(sig_sorted, W[:, order], 0.0)
    Wb = np.where(sig_sorted, 0.0, W[:, order])
    ws_bin = np.add.reduceat(Ws, starts, axis=1)
    wb_bin = np.add.reduceat(Wb, starts, axis=1)
    below = np.cumsum(wb_bin, axis=1) - wb_bin
    num = np.sum(ws_bin * (below + 0.5 * wb_bin), axis=1)
    den = ws_bin.sum(axis=1) * wb_bin.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


def weighted_auc(score: ArrayLike, is_signal: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Weighted area under the ROC curve (signal = ``is_signal`` true)."""
    s, sig, w = _binary_inputs(score, is_signal, weight)
    return float(weighted_auc_batch(s, sig, w[None, :])[0])


def bootstrap_auc(
    score: ArrayLike,
    is_signal: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    n: int = 200,
    cl: float = 0.68,
    seed: int | np.random.Generator = 0,
    batch: int = 50,
) -> tuple[float, float, NDArray[np.float64]]:
    """Central ``cl`` interval of the weighted AUC from a Poisson bootstrap of the events.

    Each replica multiplies every event weight by an independent Poisson(1) count (the HEP
    bootstrap, equivalent to resampling with replacement for large samples). Returns
    ``(low, high, replicas)``; with ``n == 0`` the interval collapses to the point estimate.
    """
    s, sig, w = _binary_inputs(score, is_signal, weight)
    if not 0.0 < cl < 1.0:
        raise DataError(f"confidence level must be in (0, 1); got {cl}")
    if n <= 0:
        auc = weighted_auc(s, sig, w)
        return auc, auc, np.empty(0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    reps: list[NDArray[np.float64]] = []
    done = 0
    while done < n:
        b = min(batch, n - done)
        counts = rng.poisson(1.0, size=(b, s.size)).astype(np.float64)
        reps.append(weighted_auc_batch(s, sig, counts * w[None, :]))
        done += b
    values = np.concatenate(reps)
    values = values[np.isfinite(values)]
    if values.size == 0:
        auc = weighted_auc(s, sig, w)
        return auc, auc, values
    alpha = (1.0 - cl) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high), values


# -- Kolmogorov-Smirnov ----------------------------------------------------------------------


def effective_size(weight: ArrayLike) -> float:
    """Kish's effective number of events, (sum w)^2 / sum w^2."""
    w = np.asarray(weight, dtype=np.float64)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def kolmogorov_sf(x: float) -> float:
    """Survival function of the Kolmogorov distribution, P(K > x) = 2 sum (-1)^(k-1) e^(-2k^2x^2)."""
    if x <= 0:
        return 1.0
    if x < 0.2:  # the alternating series converges slowly; use the Jacobi theta form
        # P(K <= x) = sqrt(2 pi)/x sum_k exp(-(2k-1)^2 pi^2 / (8 x^2)), negligible here
        cdf = (
            math.sqrt(2.0 * math.pi)
            / x
            * sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8.0 * x * x)) for k in range(1, 6))
        )
        return float(min(1.0, max(0.0, 1.0 - cdf)))
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-17:
            break
    return float(min(1.0, max(0.0, 2.0 * total)))


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
    the Kolmogorov survival function at ``sqrt(n1 n2 / (n1 + n2)) * D`` with Kish's effective
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
    return KSResult(statistic=d, pvalue=kolmogorov_sf(en * d), n1_eff=n1, n2_eff=n2)
