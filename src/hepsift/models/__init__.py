"""Models behind one Classifier contract (see :mod:`hepsift.models.base`).

Heavy families (torch, xgboost) are imported only when used: ``hepsift.models.create("bdt")``
or attribute access such as ``hepsift.models.LogisticRegression``.
"""

from __future__ import annotations

import os
from typing import Any

from hepsift.models.base import Classifier, Model, Regressor
from hepsift.models.registry import (
    CLASSIFIERS,
    MODELS,
    REGRESSORS,
    create,
    hyperparameters,
    model_class,
)

__all__ = [
    "BDT",
    "CLASSIFIERS",
    "CNN",
    "MLP",
    "MODELS",
    "PNN",
    "REGRESSORS",
    "BDTRegressor",
    "Bagging",
    "Classifier",
    "DecisionTree",
    "DeepSets",
    "EasyEnsemble",
    "LogisticRegression",
    "MLPRegressor",
    "Model",
    "RandomForest",
    "RandomUndersample",
    "Regressor",
    "Scaled",
    "create",
    "hyperparameters",
    "load",
    "model_class",
]

#: lazily imported family classes: name -> module
_LAZY = {
    "BDT": "hepsift.models.boosting",
    "CNN": "hepsift.models.cnn",
    "MLP": "hepsift.models.mlp",
    "PNN": "hepsift.models.pnn",
    "DeepSets": "hepsift.models.sets",
    "Scaled": "hepsift.models.scaled",
    "DecisionTree": "hepsift.models.trees",
    "RandomForest": "hepsift.models.trees",
    "EasyEnsemble": "hepsift.models.ensemble",
    "RandomUndersample": "hepsift.models.ensemble",
    "Bagging": "hepsift.models.ensemble",
    "MLPRegressor": "hepsift.models.regression",
    "BDTRegressor": "hepsift.models.regression",
}


def load(path: str | os.PathLike[str]) -> Model:
    """Read any saved hepsift model (classifier or regressor) back; safe formats only,
    nothing is unpickled."""
    model: Model = Model.load(path)
    return model


def __getattr__(name: str) -> Any:
    if name == "LogisticRegression":
        from hepsift.models.logistic import LogisticRegression

        return LogisticRegression
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hepsift.models' has no attribute '{name}'")
