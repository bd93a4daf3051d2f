"""Plots: one function per plot, ``ax=None`` in (current axes), artists out.

They never call ``show()`` and never save: only :mod:`hepsift.report` decides file names. Use
:func:`style` for the mplhep look. Feature distributions and correlations are in
:mod:`hepsift.plots.features`.
"""

from __future__ import annotations

from hepsift.plots._common import COLORS, hep_label, style
from hepsift.plots.confusion import confusion_matrix
from hepsift.plots.curves import (
    auc_by_mechanism,
    auc_vs_mass,
    history_series,
    learning_curves,
    metric_vs_mass,
)
from hepsift.plots.importance import feature_importance
from hepsift.plots.roc import roc_efficiency, roc_rejection
from hepsift.plots.scores import score_distributions
from hepsift.plots.significance import significance_scan

__all__ = [
    "COLORS",
    "auc_by_mechanism",
    "auc_vs_mass",
    "confusion_matrix",
    "feature_importance",
    "hep_label",
    "history_series",
    "learning_curves",
    "metric_vs_mass",
    "roc_efficiency",
    "roc_rejection",
    "score_distributions",
    "significance_scan",
    "style",
]
