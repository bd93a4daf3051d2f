"""The one torch training loop and the training-weight policies (below the models).

``train_module`` (:mod:`hepsift.train.torch_loop`) trains any torch model; the weight policies
(negative weights, class balancing) are in :mod:`hepsift.train.weights`. Cross-validation,
learning curves and Optuna tuning use the model registry and so live above the models, in
:mod:`hepsift.tuning`. Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["History", "train_module", "weighted_auc"]

_WHERE = {
    "History": "hepsift.train.torch_loop",
    "train_module": "hepsift.train.torch_loop",
    "weighted_auc": "hepsift.train.torch_loop",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hepsift.train' has no attribute '{name}'")
