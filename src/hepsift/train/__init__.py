"""Training utilities: the one torch loop, cross-validation, learning curves, Optuna tuning.

``train_module`` (:mod:`hepsift.train.torch_loop`) trains any torch model; ``cross_validate``
(:mod:`hepsift.train.cv`), ``learning_curve`` (:mod:`hepsift.train.curves`) and ``tune``
(:mod:`hepsift.train.tune`) work with every registered model. Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "History",
    "LearningCurve",
    "TuneResult",
    "cross_validate",
    "learning_curve",
    "train_module",
    "tune",
    "weighted_auc",
]

_WHERE = {
    "History": "hepsift.train.torch_loop",
    "train_module": "hepsift.train.torch_loop",
    "weighted_auc": "hepsift.train.torch_loop",
    "cross_validate": "hepsift.train.cv",
    "LearningCurve": "hepsift.train.curves",
    "learning_curve": "hepsift.train.curves",
    "TuneResult": "hepsift.train.tune",
    "tune": "hepsift.train.tune",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hepsift.train' has no attribute '{name}'")
