"""Small validation statistics of generated samples (plain functions on NumPy arrays).

Used by the detector tests and by ``hepsift generate --validate`` to compare the generated
samples with ATLAS numbers: the resolution ``sigma68`` of a peak, tail fractions, the fraction
of a variable that is identically zero, and efficiencies / medians in bins.
"""

from __future__ import annotations

import numpy as np

from hepsift.metrics import sigma68

__all__ = [
    "binned_efficiency",
    "binned_median",
    "fraction_outside",
    "sigma68",
    "zero_fraction",
]


def fraction_outside(x: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """Fractions of the values below ``lo`` and above ``hi`` (NaN if empty)."""
    v = np.asarray(x, dtype=np.float64).ravel()
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(np.mean(v < lo)), float(np.mean(v > hi))


def zero_fraction(x: np.ndarray) -> float:
    """Fraction of the values that are exactly zero (NaN if empty)."""
    v = np.asarray(x).ravel()
    return float(np.mean(v == 0)) if len(v) else float("nan")


def binned_efficiency(
    x: np.ndarray, passed: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efficiency of ``passed`` in bins of ``x``: (efficiency, binomial error, counts) per bin;
    NaN in empty bins."""
    x = np.asarray(x, dtype=np.float64)
    idx = np.digitize(x, edges) - 1
    nb = len(edges) - 1
    ok = (idx >= 0) & (idx < nb)
    n = np.bincount(idx[ok], minlength=nb).astype(np.float64)
    k = np.bincount(idx[ok], weights=np.asarray(passed, dtype=np.float64)[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        err = np.where(n > 0, np.sqrt(eff * (1 - eff) / np.maximum(n, 1)), np.nan)
    return eff, err, n


def binned_median(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Median of ``y`` in bins of ``x`` (NaN in empty bins)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    idx = np.digitize(x, edges) - 1
    return np.array(
        [np.median(y[idx == b]) if np.any(idx == b) else np.nan for b in range(len(edges) - 1)]
    )
