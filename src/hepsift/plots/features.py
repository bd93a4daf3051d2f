"""Exploratory feature plots: per-class distributions and correlation matrices (weighted).

Each function takes ``ax=None`` (current axes), draws and returns the artists; none calls
``show()`` or saves. Use :func:`hepsift.plots.style` around them for the mplhep look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError
from hepsift.plots._common import COLORS, get_axes

__all__ = [
    "correlation_matrix",
    "feature_by_class",
    "feature_grid",
    "weighted_correlation",
]


def _edges(values: NDArray[np.float64], bins: int, value_range: tuple[float, float] | None) -> Any:
    if value_range is None:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise DataError("feature has no finite values to histogram")
        lo, hi = np.quantile(finite, [0.001, 0.999])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        value_range = (float(lo), float(hi))
    return np.linspace(value_range[0], value_range[1], bins + 1)


def feature_by_class(
    values: ArrayLike,
    y: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    class_names: Sequence[str] = ("background", "signal"),
    name: str = "feature",
    unit: str | None = None,
    bins: int = 40,
    value_range: tuple[float, float] | None = None,
    density: bool = True,
    log: bool = False,
    ax: Any = None,
) -> list[Any]:
    """Weighted histogram of one feature per class, each normalised to unit area.

    Values outside the range are clipped into the edge bins (over/underflow shown). ``unit``
    (e.g. ``"GeV"``) goes into the axis labels. Returns the ``stairs`` artists, one per class.
    """
    ax = get_axes(ax)
    x = np.asarray(values, dtype=np.float64)
    labels = np.asarray(y)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64)
    if not (x.shape == labels.shape == w.shape) or x.ndim != 1:
        raise DataError(
            f"feature_by_class: values {x.shape}, y {labels.shape}, weight {w.shape} must be equal 1-D"
        )
    edges = _edges(x, bins, value_range)
    xc = np.clip(x, edges[0], edges[-1])
    artists = []
    for k, cname in enumerate(class_names):
        m = labels == k
        if not m.any():
            continue
        h, _ = np.histogram(xc[m], bins=edges, weights=w[m])
        if density:
            total = h.sum()
            h = h / (total * np.diff(edges)) if total != 0 else h
        artists.append(
            ax.stairs(h, edges, color=COLORS[k % len(COLORS)], linewidth=1.5, label=str(cname))
        )
    ax.set_xlabel(f"{name} [{unit}]" if unit else name)
    per = f"{(edges[1] - edges[0]):.3g} {unit}" if unit else f"{(edges[1] - edges[0]):.3g}"
    ax.set_ylabel(f"Normalised entries / {per}" if density else f"Weighted events / {per}")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    return artists


def feature_grid(
    X: ArrayLike,
    y: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    feature_names: Sequence[str],
    class_names: Sequence[str] = ("background", "signal"),
    units: dict[str, str] | None = None,
    bins: int = 40,
    axes: Sequence[Any] | None = None,
) -> list[Any]:
    """:func:`feature_by_class` for every column of ``X`` on a grid of axes (one per feature).

    ``axes`` defaults to a new figure with a near-square grid. Returns the artists of all
    panels, in column order.
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[1] != len(feature_names):
        raise DataError(f"feature_grid: X of shape {Xa.shape} for {len(feature_names)} names")
    if axes is None:
        import matplotlib.pyplot as plt

        d = Xa.shape[1]
        ncol = int(np.ceil(np.sqrt(d)))
        nrow = int(np.ceil(d / ncol))
        _fig, grid = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.8 * nrow), squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[d:]:
            extra.set_visible(False)
    if len(axes) < Xa.shape[1]:
        raise DataError(f"feature_grid: {len(axes)} axes for {Xa.shape[1]} features")
    out: list[Any] = []
    for j, fname in enumerate(feature_names):
        unit = (units or {}).get(fname)
        out.extend(
            feature_by_class(
                Xa[:, j],
                y,
                weight,
                class_names=class_names,
                name=fname,
                unit=unit,
                bins=bins,
                ax=axes[j],
            )
        )
        # the bin width in the label crowds neighbouring panels of a grid: keep it short
        axes[j].set_ylabel("Normalised entries", fontsize="small")
    return out


def weighted_correlation(X: ArrayLike, weight: ArrayLike | None = None) -> NDArray[np.float64]:
    """Pearson correlation matrix of the columns of ``X`` with event weights (|w| used).

    Constant columns get correlation 0 with the others (and 1 on the diagonal).
    """
    Xa = np.asarray(X, dtype=np.float64)
    w = np.ones(Xa.shape[0]) if weight is None else np.abs(np.asarray(weight, dtype=np.float64))
    if Xa.ndim != 2 or w.shape != (Xa.shape[0],):
        raise DataError(f"weighted_correlation: X {Xa.shape} and weight {w.shape} do not match")
    if w.sum() <= 0:
        raise DataError("weighted_correlation: weights sum to zero")
    mean = np.average(Xa, axis=0, weights=w)
    d = Xa - mean
    cov = (d * w[:, None]).T @ d / w.sum()
    sd = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return np.asarray(np.clip(corr, -1.0, 1.0))


def correlation_matrix(
    X: ArrayLike,
    y: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    *,
    feature_names: Sequence[str],
    class_index: int | None = None,
    class_names: Sequence[str] = ("background", "signal"),
    annotate: bool | None = None,
    ax: Any = None,
) -> list[Any]:
    """Heat map of the weighted correlation matrix (of one class when ``class_index`` is set).

    Returns ``[image, colorbar, *texts]``. Values are annotated when there are at most 12
    features (or as ``annotate`` says).
    """
    ax = get_axes(ax)
    Xa = np.asarray(X, dtype=np.float64)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    title = "all events"
    if class_index is not None:
        if y is None:
            raise ConfigError("correlation_matrix: class_index needs y")
        if not 0 <= class_index < len(class_names):
            raise ConfigError(
                f"correlation_matrix: class_index {class_index} outside 0..{len(class_names) - 1}"
            )
        m = np.asarray(y) == class_index
        if not m.any():
            raise DataError(f"correlation_matrix: no events of class '{class_names[class_index]}'")
        Xa = Xa[m]
        w = None if w is None else w[m]
        title = str(class_names[class_index])
    names = list(feature_names)
    if Xa.shape[1] != len(names):
        raise DataError(f"correlation_matrix: X has {Xa.shape[1]} columns for {len(names)} names")
    corr = weighted_correlation(Xa, w)
    img = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    cbar = ax.figure.colorbar(img, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("correlation")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize="small")
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.set_title(title)
    texts = []
    if annotate if annotate is not None else len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                texts.append(
                    ax.text(
                        j,
                        i,
                        f"{corr[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="white" if abs(corr[i, j]) > 0.6 else "black",
                    )
                )
    return [img, cbar, *texts]
