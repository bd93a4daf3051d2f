"""Classifier score distributions per class: train (markers) over test (filled), with KS p-values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.plots._common import COLORS, get_axes

__all__ = ["score_distributions"]


def _hist(x: ArrayLike, w: ArrayLike, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float64)
    wa = np.asarray(w, dtype=np.float64)
    h, _ = np.histogram(xa, bins=edges, weights=wa)
    h2, _ = np.histogram(xa, bins=edges, weights=wa * wa)
    total = wa.sum()
    width = np.diff(edges)
    norm = total * width if total != 0 else np.ones_like(width)
    return h / norm, np.sqrt(h2) / np.abs(norm)


def score_distributions(
    train: tuple[ArrayLike, ArrayLike, ArrayLike],
    test: tuple[ArrayLike, ArrayLike, ArrayLike],
    *,
    class_names: Sequence[str],
    ks_pvalues: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    bins: int = 40,
    score_range: tuple[float, float] = (0.0, 1.0),
    xlabel: str = "Classifier score",
    ax: Any = None,
) -> list[Any]:
    """Normalised, weighted score distributions of every class for train and test events.

    ``train`` and ``test`` are ``(score, y, weight)``. Test is drawn filled, train as markers
    with sqrt(sum w^2) errors; the legend gives the train-vs-test KS p-value per class and flags
    it when below ``alpha`` (overtraining check). Returns the artists.
    """
    ax = get_axes(ax)
    edges = np.linspace(score_range[0], score_range[1], bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    s_tr, y_tr, w_tr = (np.asarray(a) for a in train)
    s_te, y_te, w_te = (np.asarray(a) for a in test)
    artists: list[Any] = []
    for k, name in enumerate(class_names):
        color = COLORS[k % len(COLORS)]
        m_te = y_te == k
        m_tr = y_tr == k
        if m_te.any():
            h, _ = _hist(np.clip(s_te[m_te], *score_range), w_te[m_te], edges)
            p = None if ks_pvalues is None else ks_pvalues.get(name)
            label = f"{name} test"
            if p is not None:
                flag = "  OVERTRAINING?" if p < alpha else ""
                label += f" (KS p = {p:.3g}{flag})"
            art = ax.stairs(h, edges, fill=True, alpha=0.35, color=color, label=label)
            artists.append(art)
        if m_tr.any():
            h, err = _hist(np.clip(s_tr[m_tr], *score_range), w_tr[m_tr], edges)
            art = ax.errorbar(
                centres, h, yerr=err, fmt="o", markersize=3, color=color, label=f"{name} train"
            )
            artists.append(art)
    ax.set_xlim(*score_range)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Normalised entries")
    ax.set_yscale("log")
    ax.legend(loc="upper center", fontsize="x-small", ncol=2)
    return artists
