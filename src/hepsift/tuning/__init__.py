"""Cross-validation, learning curves and Optuna tuning of any registered model.

These sit above the models (they create models through the registry), unlike
:mod:`hepsift.train`, which holds the torch loop the models themselves use.
``cross_validate`` (:mod:`hepsift.tuning.cv`), ``learning_curve`` (:mod:`hepsift.tuning.curves`)
and ``tune`` (:mod:`hepsift.tuning.tune`); heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CVResult",
    "LearningCurve",
    "TuneResult",
    "cross_validate",
    "learning_curve",
    "score_model",
    "tune",
]

_WHERE = {
    "CVResult": "hepsift.tuning.cv",
    "cross_validate": "hepsift.tuning.cv",
    "score_model": "hepsift.tuning.cv",
    "LearningCurve": "hepsift.tuning.curves",
    "learning_curve": "hepsift.tuning.curves",
    "TuneResult": "hepsift.tuning.tune",
    "tune": "hepsift.tuning.tune",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hepsift.tuning' has no attribute '{name}'")
