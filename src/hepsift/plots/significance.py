"""Asimov significance as a function of the cut on the classifier score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.plots._common import COLORS, get_axes

__all__ = ["significance_scan"]


def significance_scan(
    scans: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    ax: Any = None,
) -> list[Any]:
    """Z_A (Asimov) vs score cut, one line per model, with the best cut marked.

    ``scans`` maps a model name to ``(cuts, z)`` arrays. Returns the artists.
    """
    ax = get_axes(ax)
    artists: list[Any] = []
    for i, (name, (cuts, z)) in enumerate(scans.items()):
        c = np.asarray(cuts, dtype=np.float64)
        zz = np.asarray(z, dtype=np.float64)
        color = COLORS[i % len(COLORS)]
        finite = np.isfinite(zz)
        if not finite.any():
            continue
        best = int(np.nanargmax(np.where(finite, zz, -np.inf)))
        (line,) = ax.plot(
            c[finite],
            zz[finite],
            color=color,
            label=f"{name} (max Z = {zz[best]:.3g} at {c[best]:.3g})",
        )
        artists.append(line)
        artists.append(ax.plot([c[best]], [zz[best]], marker="*", markersize=10, color=color)[0])
    ax.set_xlabel("Cut on classifier score")
    ax.set_ylabel("Asimov significance $Z_A$")
    ax.set_ylim(bottom=0)
    if artists:
        ax.legend(loc="best", fontsize="small")
    else:  # every cut left too little background (MC) to estimate Z
        ax.text(
            0.5,
            0.5,
            "no cut keeps enough background MC for Z",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    return artists
