"""Feature importance as horizontal bars (permutation AUC drop, or BDT gain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepsift.plots._common import COLORS, get_axes

__all__ = ["feature_importance"]


def feature_importance(
    values: Mapping[str, float],
    *,
    errors: Mapping[str, float] | None = None,
    xlabel: str = "Weighted AUC drop when permuted",
    top: int | None = 20,
    color_index: int = 0,
    ax: Any = None,
) -> list[Any]:
    """Bars of importance per feature, the most important on top (at most ``top`` bars)."""
    ax = get_axes(ax)
    items: Sequence[tuple[str, float]] = sorted(values.items(), key=lambda kv: -kv[1])
    if top is not None:
        items = items[:top]
    names = [k for k, _ in items][::-1]
    vals = np.array([v for _, v in items][::-1], dtype=np.float64)
    err = None if errors is None else np.array([errors.get(n, 0.0) for n in names])
    bars = ax.barh(names, vals, xerr=err, color=COLORS[color_index % len(COLORS)])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.minorticks_off()
    return [bars]
