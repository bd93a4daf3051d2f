"""Input-feature plots used by the report when :mod:`hepsift.plots.features` is absent:
weighted per-class distributions on a grid, and the weighted correlation matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.plots._common import COLORS, get_axes

__all__ = ["correlation_matrix", "distribution_grid", "weighted_correlation"]


def weighted_correlation(X: ArrayLike, weight: ArrayLike | None = None) -> NDArray[np.float64]:
    """Pearson correlation of the columns of X with event weights (|w| used; NaN-free)."""
    Xa = np.asarray(X, dtype=np.float64)
    w = np.ones(len(Xa)) if weight is None else np.abs(np.asarray(weight, dtype=np.float64))
    if w.sum() <= 0:
        return np.full((Xa.shape[1], Xa.shape[1]), np.nan)
    mean = np.average(Xa, axis=0, weights=w)
    D = Xa - mean
    cov = (D * w[:, None]).T @ D / w.sum()
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = 0.0
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_matrix(
    corr: ArrayLike, names: Sequence[str], *, title: str = "", ax: Any = None
) -> list[Any]:
    """Heat map of a correlation matrix in [-1, 1], annotated when small enough to read."""
    ax = get_axes(ax)
    c = np.asarray(corr, dtype=np.float64)
    image = ax.imshow(c, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    artists: list[Any] = [image]
    n = len(names)
    if n <= 14:
        for i in range(n):
            for j in range(n):
                artists.append(
                    ax.text(j, i, f"{c[i, j]:.2f}", ha="center", va="center", fontsize=6)
                )
    ax.set_xticks(range(n), labels=list(names), rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels=list(names), fontsize=7)
    ax.minorticks_off()
    if title:
        ax.set_title(title, fontsize="medium")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return artists


def distribution_grid(
    X: ArrayLike,
    y: ArrayLike,
    weight: ArrayLike,
    *,
    names: Sequence[str],
    class_names: Sequence[str],
    axes: Sequence[Any],
    bins: int = 30,
) -> list[Any]:
    """One panel per feature: weighted, unit-area step histograms of every class (1-99 %
    quantile range, so tails do not squash the bulk)."""
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y)
    wa = np.asarray(weight, dtype=np.float64)
    artists: list[Any] = []
    for j, (name, ax) in enumerate(zip(names, axes, strict=False)):
        col = Xa[:, j]
        lo, hi = np.quantile(col, [0.01, 0.99]) if col.size else (0.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for k, cname in enumerate(class_names):
            m = ya == k
            if not m.any():
                continue
            h, _ = np.histogram(np.clip(col[m], lo, hi), bins=edges, weights=wa[m])
            total = h.sum()
            if total != 0:
                h = h / (total * np.diff(edges))
            artists.append(ax.stairs(h, edges, color=COLORS[k % len(COLORS)], label=cname))
        ax.set_xlabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        if j == 0:
            ax.legend(fontsize=6)
    return artists
