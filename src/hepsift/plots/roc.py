"""ROC curves of several models: signal efficiency vs background rejection or efficiency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hepsift.plots._common import COLORS, get_axes

__all__ = ["RocLike", "roc_efficiency", "roc_rejection"]


class RocLike(Protocol):
    """What the ROC plots read (``hepsift.metrics.Roc`` has it)."""

    @property
    def signal_efficiency(self) -> NDArray[np.float64]: ...

    @property
    def background_efficiency(self) -> NDArray[np.float64]: ...

    @property
    def auc(self) -> float: ...


def _label(name: str, roc: RocLike, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return f"{name} (AUC = {roc.auc:.4f})"
    low, high = interval
    return f"{name} (AUC = {roc.auc:.4f} [{low:.4f}, {high:.4f}])"


def roc_rejection(
    rocs: Mapping[str, RocLike],
    *,
    intervals: Mapping[str, tuple[float, float]] | None = None,
    ax: Any = None,
) -> list[Any]:
    """Background rejection 1/eps_b (log scale) vs signal efficiency, one line per model.

    ``intervals`` (model -> 68 % AUC interval) go into the legend. Returns the line artists.
    """
    ax = get_axes(ax)
    artists = []
    for i, (name, roc) in enumerate(rocs.items()):
        eff_s = np.asarray(roc.signal_efficiency, dtype=np.float64)
        eff_b = np.asarray(roc.background_efficiency, dtype=np.float64)
        keep = (eff_b > 0) & (eff_s > 0)
        (line,) = ax.plot(
            eff_s[keep],
            1.0 / eff_b[keep],
            color=COLORS[i % len(COLORS)],
            label=_label(name, roc, (intervals or {}).get(name)),
        )
        artists.append(line)
    grid = np.linspace(0.01, 1.0, 100)
    (rand,) = ax.plot(grid, 1.0 / grid, color="black", linestyle=":", label="random")
    artists.append(rand)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1.0)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("Signal efficiency")
    ax.set_ylabel("Background rejection 1/$\\varepsilon_b$")
    ax.legend(loc="upper right", fontsize="small")
    return artists


def roc_efficiency(
    rocs: Mapping[str, RocLike],
    *,
    intervals: Mapping[str, tuple[float, float]] | None = None,
    ax: Any = None,
) -> list[Any]:
    """Signal efficiency vs background efficiency (the classic ROC), one line per model."""
    ax = get_axes(ax)
    artists = []
    for i, (name, roc) in enumerate(rocs.items()):
        (line,) = ax.plot(
            np.asarray(roc.background_efficiency),
            np.asarray(roc.signal_efficiency),
            color=COLORS[i % len(COLORS)],
            label=_label(name, roc, (intervals or {}).get(name)),
        )
        artists.append(line)
    (diag,) = ax.plot([0, 1], [0, 1], color="black", linestyle=":", label="random")
    artists.append(diag)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("Background efficiency")
    ax.set_ylabel("Signal efficiency")
    ax.legend(loc="lower right", fontsize="small")
    return artists
