"""Shared helpers of the plot functions: axes handling, style, labels."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["COLORS", "LIGHT", "get_axes", "hep_label", "style"]

#: colour cycle used for models and classes (colour-blind friendly, Petroff 10)
COLORS = (
    "#3f90da",
    "#ffa90e",
    "#bd1f01",
    "#94a4a2",
    "#832db6",
    "#a96b59",
    "#e76300",
    "#b9ac70",
    "#717581",
    "#92dadd",
)


def get_axes(ax: Any = None) -> Any:
    """``ax`` itself, or the current pyplot axes when None (the matplotlib convention)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


#: lighter ticks for many-panel figures (each tick label costs text layout on every draw)
LIGHT = {
    "xtick.minor.visible": False,
    "ytick.minor.visible": False,
    "xtick.top": False,
    "ytick.right": False,
    "axes.formatter.use_mathtext": False,
}


@contextlib.contextmanager
def style(rc: dict[str, Any] | None = None) -> Iterator[None]:
    """The mplhep style (ATLAS-like fonts and ticks) for the plots drawn inside the block;
    ``rc`` overrides some of its settings (e.g. :data:`LIGHT`)."""
    import logging

    import matplotlib.pyplot as plt
    import mplhep

    # The ATLAS style names a 'cursive' family that is rarely installed: matplotlib logs a
    # harmless "findfont" fallback line for it on every figure, which would clutter the CLI.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    with plt.style.context([mplhep.style.ATLAS, rc or {}]):
        yield


def hep_label(ax: Any, *, lumi_fb: float | None = None) -> Any:
    """An experiment-style label above the axes: ``hepsift Simulation``, 13 TeV, luminosity."""
    import mplhep

    lumi = f"{lumi_fb:.3g}" if lumi_fb is not None else None
    return mplhep.label.exp_label(exp="hepsift", data=False, lumi=lumi, ax=ax, loc=0)
