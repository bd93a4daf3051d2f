"""Models behind one Classifier contract (see :mod:`hepsift.models.base`).

Heavy families (torch, xgboost) are imported only when used: ``hepsift.models.create("bdt")``
or attribute access such as ``hepsift.models.LogisticRegression``.
"""

from __future__ import annotations

import os
from typing import Any

from hepsift.models.base import Classifier
from hepsift.models.registry import MODELS, create, hyperparameters, model_class

__all__ = [
    "BDT",
    "MLP",
    "MODELS",
    "BDTRegressor",
    "Bagging",
    "Classifier",
    "DecisionTree",
    "EasyEnsemble",
    "LogisticRegression",
    "MLPRegressor",
    "RandomForest",
    "RandomUndersample",
    "create",
    "hyperparameters",
    "load",
    "model_class",
]

#: lazily imported family classes: name -> module
_LAZY = {
    "BDT": "hepsift.models.boosting",
    "MLP": "hepsift.models.mlp",
    "DecisionTree": "hepsift.models.trees",
    "RandomForest": "hepsift.models.trees",
    "EasyEnsemble": "hepsift.models.ensemble",
    "RandomUndersample": "hepsift.models.ensemble",
    "Bagging": "hepsift.models.ensemble",
    "MLPRegressor": "hepsift.models.regression",
    "BDTRegressor": "hepsift.models.regression",
}


def load(path: str | os.PathLike[str]) -> Any:
    """Read any saved hepsift model back (safe formats only; nothing is unpickled)."""
    return Classifier.load(path)


def __getattr__(name: str) -> Any:
    if name == "LogisticRegression":
        from hepsift.models.logistic import LogisticRegression

        return LogisticRegression
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hepsift.models' has no attribute '{name}'")
