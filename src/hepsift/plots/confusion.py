"""Confusion matrices drawn as annotated heat maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.plots._common import get_axes

__all__ = ["confusion_matrix"]


def confusion_matrix(
    matrix: ArrayLike,
    class_names: Sequence[str],
    *,
    title: str = "",
    fmt: str = ".3g",
    ax: Any = None,
) -> list[Any]:
    """Heat map of a (true x predicted) matrix (counts, row-normalised or expected yields)."""
    ax = get_axes(ax)
    m = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    if m.shape != (n, n):
        raise ValueError(f"matrix of shape {m.shape} for {n} classes")
    image = ax.imshow(m, cmap="Blues", origin="upper", aspect="auto")
    artists: list[Any] = [image]
    vmax = float(np.nanmax(np.abs(m))) if m.size else 1.0
    for i in range(n):
        for j in range(n):
            value = m[i, j]
            color = "white" if vmax and abs(value) > 0.6 * vmax else "black"
            artists.append(
                ax.text(
                    j,
                    i,
                    format(value, fmt),
                    ha="center",
                    va="center",
                    color=color,
                    fontsize="small",
                )
            )
    ax.set_xticks(range(n), labels=list(class_names), rotation=30, ha="right")
    ax.set_yticks(range(n), labels=list(class_names))
    ax.minorticks_off()
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    if title:
        ax.set_title(title, fontsize="medium")
    return artists
