"""Data/MC comparison: stacked expected yields per simulated sample with the MC statistical
band, data points with Poisson errors, a data/MC ratio panel, chi2/ndf and a KS p-value.

:func:`datamc_numbers` computes (histograms, chi2, KS), :func:`datamc` draws them. A ``blind``
range ``(lo, hi)`` hides the data there (and leaves those bins out of chi2 and KS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.plots._common import COLORS

__all__ = ["DataMC", "datamc", "datamc_numbers"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DataMC:
    """Histograms of one variable: MC per sample (counts, sum w^2), data, and the tests."""

    edges: FloatArray
    mc: dict[str, FloatArray]
    mc_sumw2: FloatArray
    data: FloatArray
    visible: NDArray[np.bool_]  # bins outside the blinded range
    chi2: float
    ndf: int
    ks_pvalue: float


def _weighted_ks_pvalue(
    x_data: FloatArray, x_mc: FloatArray, w_mc: FloatArray
) -> float:  # two-sample KS, data unweighted, MC weighted (effective size)
    from scipy.special import kolmogorov

    if x_data.size == 0 or x_mc.size == 0 or np.sum(w_mc) <= 0:
        return float("nan")
    grid = np.sort(np.concatenate([x_data, x_mc]))
    cdf_d = np.searchsorted(np.sort(x_data), grid, side="right") / x_data.size
    order = np.argsort(x_mc)
    cw = np.cumsum(w_mc[order]) / np.sum(w_mc)
    idx = np.searchsorted(x_mc[order], grid, side="right")
    cdf_m = np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)
    d = float(np.max(np.abs(cdf_d - cdf_m)))
    n_eff = float(np.sum(w_mc) ** 2 / np.sum(w_mc**2))
    en = np.sqrt(x_data.size * n_eff / (x_data.size + n_eff))
    return float(kolmogorov(en * d))


def datamc_numbers(
    mc: Mapping[str, tuple[ArrayLike, ArrayLike]],
    data: ArrayLike,
    *,
    bins: int | ArrayLike = 20,
    blind: tuple[float, float] | None = None,
) -> DataMC:
    """Histograms and tests. ``mc``: sample -> (values, expected-yield weights)."""
    vals = {k: np.asarray(v, dtype=np.float64) for k, (v, _) in mc.items()}
    wts = {k: np.asarray(w, dtype=np.float64) for k, (_, w) in mc.items()}
    x_data = np.asarray(data, dtype=np.float64)
    every = np.concatenate([*vals.values(), x_data])
    finite = every[np.isfinite(every)]
    if isinstance(bins, int):
        edges = np.histogram_bin_edges(finite, bins=bins)
    else:
        edges = np.asarray(bins, dtype=np.float64)
    h_mc = {k: np.histogram(vals[k], edges, weights=wts[k])[0].astype(float) for k in vals}
    sumw2 = sum(
        (np.histogram(vals[k], edges, weights=wts[k] ** 2)[0] for k in vals),
        np.zeros(len(edges) - 1),
    )
    centres = 0.5 * (edges[1:] + edges[:-1])
    visible = np.ones(len(centres), dtype=bool)
    if blind is not None:
        visible = ~((edges[1:] > blind[0]) & (edges[:-1] < blind[1]))
        x_data = x_data[~((x_data >= blind[0]) & (x_data <= blind[1]))]
    h_data = np.histogram(x_data, edges)[0].astype(float)
    total = sum(h_mc.values(), np.zeros(len(centres)))
    var = total + sumw2  # Poisson on the prediction + MC statistics
    use = visible & (var > 0)
    chi2 = float(np.sum((h_data[use] - total[use]) ** 2 / var[use]))
    x_all = np.concatenate(list(vals.values()))
    w_all = np.concatenate(list(wts.values()))
    if blind is not None:
        keep = ~((x_all >= blind[0]) & (x_all <= blind[1]))
        x_all, w_all = x_all[keep], w_all[keep]
    ks = _weighted_ks_pvalue(x_data, x_all, w_all)
    return DataMC(edges, h_mc, np.asarray(sumw2), h_data, visible, chi2, int(use.sum()), ks)


def datamc(result: DataMC, *, xlabel: str = "", ax: Any = None, rax: Any = None) -> list[Any]:
    """Draw :func:`datamc_numbers`' result: stack + MC band + data on ``ax``, ratio on ``rax``
    (both None: a new figure with two panels)."""
    import matplotlib.pyplot as plt

    if ax is None or rax is None:
        _, (ax, rax) = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
        )
    e = result.edges
    centres = 0.5 * (e[1:] + e[:-1])
    bottom = np.zeros(len(centres))
    artists: list[Any] = []
    for i, (name, h) in enumerate(result.mc.items()):
        artists.append(
            ax.stairs(bottom + h, e, baseline=bottom.copy(), fill=True, alpha=0.8,
                      color=COLORS[i % len(COLORS)], label=name)
        )  # fmt: skip
        bottom = bottom + h
    err = np.sqrt(result.mc_sumw2)
    artists.append(
        ax.stairs(bottom + err, e, baseline=bottom - err, fill=True, hatch="///",
                  alpha=0.3, color="grey", label="MC stat.")
    )  # fmt: skip
    v = result.visible
    d = result.data
    artists.append(
        ax.errorbar(centres[v], d[v], yerr=np.sqrt(d[v]), fmt="o", color="black",
                    markersize=3, label="data")
    )  # fmt: skip
    text = f"chi2/ndf = {result.chi2:.1f}/{result.ndf}\nKS p = {result.ks_pvalue:.3g}"
    ax.text(0.03, 0.95, text, transform=ax.transAxes, va="top", fontsize="small")
    ax.set_ylabel("events")
    ax.legend(loc="upper right", fontsize="small")
    ok = v & (bottom > 0)
    ratio = np.divide(d, bottom, out=np.full_like(d, np.nan), where=ok)
    artists.append(
        rax.errorbar(centres[ok], ratio[ok], yerr=np.sqrt(d[ok]) / bottom[ok], fmt="o",
                     color="black", markersize=3)
    )  # fmt: skip
    rel = np.divide(err, bottom, out=np.zeros_like(err), where=bottom > 0)
    rax.stairs(1 + rel, e, baseline=1 - rel, fill=True, alpha=0.3, color="grey")
    rax.axhline(1.0, color="black", lw=0.8)
    rax.set_ylim(0.0, 2.0)
    rax.set_ylabel("data / MC")
    rax.set_xlabel(xlabel)
    return artists


def stack_inputs(
    values: ArrayLike, weights: ArrayLike, sample: ArrayLike, names: Sequence[str]
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """``mc`` of :func:`datamc_numbers` from per-event arrays and sample ids."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    s = np.asarray(sample)
    return {n: (v[s == i], w[s == i]) for i, n in enumerate(names) if np.any(s == i)}
