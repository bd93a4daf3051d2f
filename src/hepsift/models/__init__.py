"""Models behind one Classifier contract (see :mod:`hepsift.models.base`).

Heavy families (torch, xgboost) are imported only when used: ``hepsift.models.create("bdt")``
or attribute access such as ``hepsift.models.LogisticRegression``.
"""

from __future__ import annotations

import os
from typing import Any

from hepsift.models.base import Classifier
from hepsift.models.registry import MODELS, create, hyperparameters, model_class

__all__ = ["MODELS", "Classifier", "LogisticRegression", "create", "hyperparameters", "load", "model_class"]


def load(path: str | os.PathLike[str]) -> Any:
    """Read any saved hepsift model back (safe formats only; nothing is unpickled)."""
    return Classifier.load(path)


def __getattr__(name: str) -> Any:
    if name == "LogisticRegression":
        from hepsift.models.logistic import LogisticRegression

        return LogisticRegression
    raise AttributeError(f"module 'hepsift.models' has no attribute '{name}'")
