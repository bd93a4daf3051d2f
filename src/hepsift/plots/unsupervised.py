"""Plots of the unsupervised methods: SIC curves, the bump hunt, projections, k scans.

One function per plot, ``ax=None`` in, artists out; the data are plain arrays (the results of
:mod:`hepsift.unsupervised`), so this module imports nothing above the plots layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.plots._common import COLORS, get_axes

__all__ = ["bump_hunt", "cluster_purity", "cluster_scan", "projection", "sic_curves"]


def sic_curves(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], *, ax: Any = None) -> list[Any]:
    """SIC = eff_S / sqrt(eff_B) vs signal efficiency, one line per method."""
    ax = get_axes(ax)
    artists = []
    for i, (name, (eff_s, sic)) in enumerate(curves.items()):
        (line,) = ax.plot(
            np.asarray(eff_s), np.asarray(sic), color=COLORS[i % len(COLORS)], label=name
        )
        artists.append(line)
    artists.append(ax.axhline(1.0, color="grey", linestyle=":", label="no cut / random"))
    ax.set_xlabel("Signal efficiency $\\epsilon_S$")
    ax.set_ylabel("SIC $\\epsilon_S / \\sqrt{\\epsilon_B}$")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    return artists


def bump_hunt(
    edges: ArrayLike,
    counts: ArrayLike,
    fit: ArrayLike,
    signal_region: Sequence[float],
    *,
    label: str = "",
    ax: Any = None,
) -> list[Any]:
    """Events per bin of the resonance variable with the sideband fit (dashed in the SR)."""
    ax = get_axes(ax)
    e = np.asarray(edges, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    mu = np.asarray(fit, dtype=np.float64)
    centres = 0.5 * (e[1:] + e[:-1])
    inside = (centres >= signal_region[0]) & (centres < signal_region[1])
    artists = [
        ax.errorbar(
            centres,
            n,
            yerr=np.sqrt(np.maximum(n, 1.0)),
            fmt="o",
            color="k",
            markersize=3,
            label=label or "events",
        ),
        ax.plot(centres, np.where(inside, np.nan, mu), color=COLORS[0], label="sideband fit")[0],
        ax.plot(
            centres,
            np.where(inside, mu, np.nan),
            color=COLORS[0],
            linestyle="--",
            label="fit extrapolated into the SR",
        )[0],
        ax.axvspan(signal_region[0], signal_region[1], color=COLORS[1], alpha=0.15),
    ]
    ax.set_xlabel("$m_{\\gamma\\gamma}$ [GeV]")
    ax.set_ylabel(f"Events / {e[1] - e[0]:g} GeV")
    ax.legend(loc="best", fontsize="small")
    return artists


def projection(
    points: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    *,
    axis_names: Sequence[str] = ("component 1", "component 2"),
    ax: Any = None,
) -> list[Any]:
    """Events in the first two components (one component: a histogram per class, common bins
    over the central 99 % of the events, the tails gathered in the edge bins). A few outliers
    never squeeze the bulk into one corner: the axes span the central 99 % as well."""
    ax = get_axes(ax)
    P = np.asarray(points, dtype=np.float64)
    y = np.asarray(labels)
    two_d = P.ndim == 2 and P.shape[1] >= 2
    flat = P[:, :2] if two_d else P.reshape(len(P), -1)[:, :1]
    finite = np.all(np.isfinite(flat), axis=1)
    if not finite.any():
        finite = np.ones(len(flat), dtype=bool)
    lo, hi = np.percentile(flat[finite], [0.5, 99.5], axis=0) if finite.any() else (0.0, 1.0)
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    artists = []
    for i, name in enumerate(class_names):
        m = (y == i) & finite
        color = COLORS[i % len(COLORS)]
        if two_d:
            artists.append(ax.scatter(P[m, 0], P[m, 1], s=3, alpha=0.4, color=color, label=name))
            continue
        edges: Any = np.linspace(lo[0], hi[0], 51) if hi[0] > lo[0] else 50
        values = np.clip(flat[m, 0], lo[0], hi[0])
        hist = ax.hist(values, bins=edges, histtype="step", density=True, color=color, label=name)
        artists.append(hist[2])
    if two_d and np.all(hi > lo):
        pad = 0.05 * (hi - lo)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1] if P.ndim == 2 and P.shape[1] >= 2 else "density")
    ax.legend(loc="best", fontsize="small", markerscale=3)
    return artists


def cluster_scan(
    ks: Sequence[int], silhouette: Sequence[float], inertia: Sequence[float], *, ax: Any = None
) -> list[Any]:
    """Silhouette (left axis, chooses k) and weighted inertia (right axis: the elbow) vs k."""
    ax = get_axes(ax)
    (a,) = ax.plot(ks, silhouette, marker="o", color=COLORS[0], label="silhouette")
    best = int(np.argmax(silhouette))
    star = ax.plot([ks[best]], [silhouette[best]], marker="*", markersize=12, color=COLORS[2])[0]
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("mean silhouette", color=COLORS[0])
    twin = ax.twinx()
    (b,) = twin.plot(ks, inertia, marker="s", color=COLORS[1], label="inertia (elbow)")
    twin.set_ylabel("weighted inertia", color=COLORS[1])
    return [a, star, b]


def cluster_purity(
    clusters: Sequence[int],
    fractions: Sequence[Sequence[float]],
    class_names: Sequence[str],
    *,
    weights: Sequence[float] | None = None,
    ax: Any = None,
) -> list[Any]:
    """Weighted class fractions per cluster as stacked bars (cluster -1: DBSCAN/HDBSCAN noise);
    with ``weights`` each bar is labelled with its share of the total weight."""
    ax = get_axes(ax)
    frac = np.asarray(fractions, dtype=np.float64).reshape(len(clusters), len(class_names))
    x = np.arange(len(clusters))
    bottom = np.zeros(len(clusters))
    artists = []
    for i, name in enumerate(class_names):
        artists.append(
            ax.bar(x, frac[:, i], bottom=bottom, color=COLORS[i % len(COLORS)], label=name)
        )
        bottom += frac[:, i]
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        share = w / w.sum() if w.sum() > 0 else np.zeros_like(w)
        for xi, sh in zip(x, share, strict=True):
            ax.text(xi, 1.01, f"{100 * sh:.0f}%", ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(x, [("noise" if c == -1 else str(c)) for c in clusters])
    ax.set_xlabel("cluster (label above: share of the total weight)")
    ax.set_ylabel("weighted class fraction")
    ax.set_ylim(0.0, 1.4)  # room above the bars for the shares and the legend
    ax.legend(loc="upper right", fontsize="small", ncols=min(len(class_names), 3))
    return artists
