"""The post-fit score distribution of a binned likelihood fit (:mod:`hepsift.inference`):
stacked expected yields per sample in the fit's bins, data (or the Asimov data) as points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepsift.plots._common import COLORS

__all__ = ["postfit_scores"]


def postfit_scores(
    edges: Sequence[float],
    yields: Mapping[str, Sequence[float]],
    *,
    observed: Sequence[float] | None = None,
    signal: Sequence[str] = (),
    mu_hat: float | None = None,
    ax: Any = None,
) -> list[Any]:
    """Stacked post-fit yields per sample (backgrounds first, signal on top) per score bin,
    divided by the bin width; ``observed`` counts as points with Poisson errors. Bins are the
    fit's (variable width), the y axis is events per unit score, logarithmic."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    e = np.asarray(edges, dtype=np.float64)
    width = np.diff(e)
    order = [k for k in yields if k not in signal] + [k for k in yields if k in signal]
    bottom = np.zeros(len(width))
    artists: list[Any] = []
    for i, name in enumerate(order):
        y = np.asarray(yields[name], dtype=np.float64) / width
        label = f"{name} (mu = {mu_hat:.2f})" if name in signal and mu_hat is not None else name
        artists.append(
            ax.stairs(bottom + y, e, baseline=bottom.copy(), fill=True, alpha=0.8,
                      color=COLORS[i % len(COLORS)], label=label)
        )  # fmt: skip
        bottom = bottom + y
    if observed is not None:
        n = np.asarray(observed, dtype=np.float64)
        centres = 0.5 * (e[1:] + e[:-1])
        artists.append(
            ax.errorbar(centres, n / width, yerr=np.sqrt(n) / width, fmt="o", color="black",
                        markersize=3, label="data")
        )  # fmt: skip
    positive = bottom[bottom > 0]
    if positive.size:
        ax.set_yscale("log")
        ax.set_ylim(positive.min() * 0.3, positive.max() * 20)
    ax.set_xlim(e[0], e[-1])
    ax.set_xlabel("classifier score (fit bins)")
    ax.set_ylabel("events / unit score")
    ax.legend(loc="upper right", fontsize="small")
    return artists
