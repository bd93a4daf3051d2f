"""Learning curves from a training history, and AUC vs mass for parametric networks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.plots._common import COLORS, get_axes

__all__ = [
    "auc_by_mechanism",
    "auc_vs_mass",
    "history_series",
    "learning_curves",
    "metric_vs_mass",
]


def history_series(history: Any) -> dict[str, list[float]]:
    """Per-epoch series from a ``history_``: a dict of lists or a list of per-epoch dicts."""
    if history is None:
        return {}
    if isinstance(history, Mapping):
        out = {}
        for k, v in history.items():
            if isinstance(v, Sequence) and not isinstance(v, str) and len(v) > 0:
                try:
                    out[str(k)] = [float("nan") if x is None else float(x) for x in v]
                except (TypeError, ValueError):
                    continue
        return out
    if isinstance(history, Sequence):
        keys: dict[str, list[float]] = {}
        for row in history:
            if isinstance(row, Mapping):
                for k, v in row.items():
                    if isinstance(v, int | float) and k != "epoch":
                        keys.setdefault(str(k), []).append(float(v))
        return keys
    return {}


def learning_curves(history: Any, *, ax: Any = None) -> list[Any]:
    """Loss (left axis) and AUC (right axis) per epoch, train solid and validation dashed."""
    ax = get_axes(ax)
    series = history_series(history)
    artists: list[Any] = []
    loss_keys = [k for k in series if "loss" in k]
    auc_keys = [k for k in series if "auc" in k]
    for i, k in enumerate(loss_keys):
        y = series[k]
        style = "--" if k.startswith("val") else "-"
        artists.append(
            ax.plot(range(1, len(y) + 1), y, style, color=COLORS[i % len(COLORS)], label=k)[0]
        )
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Loss")
    if auc_keys:
        ax2 = ax.twinx()
        for i, k in enumerate(auc_keys):
            y = series[k]
            style = "--" if k.startswith("val") else "-"
            artists.append(
                ax2.plot(
                    range(1, len(y) + 1), y, style, color=COLORS[(i + 2) % len(COLORS)], label=k
                )[0]
            )
        ax2.set_ylabel("AUC")
        handles = [a for a in artists]
        ax.legend(handles, [a.get_label() for a in handles], loc="center right", fontsize="small")
    elif artists:
        ax.legend(loc="upper right", fontsize="small")
    return artists


def metric_vs_mass(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    ylabel: str = "AUC",
    log: bool = False,
    errors: Mapping[str, ArrayLike] | None = None,
    ax: Any = None,
) -> list[Any]:
    """A metric at each hypothesised mass (GeV), one line per model; ``log`` for a log y axis
    (e.g. background rejection)."""
    ax = get_axes(ax)
    artists: list[Any] = []
    for i, (name, (mass, value)) in enumerate(curves.items()):
        err = None if errors is None or name not in errors else np.asarray(errors[name])
        artists.append(
            ax.errorbar(
                np.asarray(mass),
                np.asarray(value),
                yerr=err,
                marker="o",
                color=COLORS[i % len(COLORS)],
                label=name,
            )
        )
    ax.set_xlabel("Mass hypothesis [GeV]")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(loc="best", fontsize="small")
    return artists


def auc_vs_mass(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    errors: Mapping[str, ArrayLike] | None = None,
    ax: Any = None,
) -> list[Any]:
    """AUC at each hypothesised mass (GeV), one line per model (e.g. pNN vs fixed-mass nets)."""
    return metric_vs_mass(curves, ylabel="AUC", errors=errors, ax=ax)


def auc_by_mechanism(
    grid: Mapping[tuple[str, str], tuple[ArrayLike, ArrayLike]],
    *,
    reference: tuple[ArrayLike, ArrayLike] | None = None,
    reference_label: str = "dedicated",
    ax: Any = None,
) -> list[Any]:
    """AUC vs mass of parametric networks keyed by (conditioning mechanism, background-mass
    policy): one colour per mechanism, one line style per policy; ``reference`` (e.g. the
    dedicated networks) in black."""
    ax = get_axes(ax)
    mechs = list(dict.fromkeys(m for m, _ in grid))
    pols = list(dict.fromkeys(p for _, p in grid))
    artists: list[Any] = []
    for (mech, pol), (mass, auc) in grid.items():
        (line,) = ax.plot(
            np.asarray(mass),
            np.asarray(auc),
            marker="o",
            linestyle=("-", "--", ":")[pols.index(pol) % 3],
            color=COLORS[mechs.index(mech) % len(COLORS)],
            label=f"{mech}/{pol}",
        )
        artists.append(line)
    if reference is not None:
        (line,) = ax.plot(
            np.asarray(reference[0]),
            np.asarray(reference[1]),
            marker="s",
            color="black",
            linestyle="-.",
            label=reference_label,
        )
        artists.append(line)
    ax.set_xlabel("Mass hypothesis [GeV]")
    ax.set_ylabel("AUC")
    ax.legend(loc="best", fontsize="x-small")
    return artists
