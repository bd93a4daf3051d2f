"""Jagged collections -> model inputs: padding, aggregates, kinematics, scaling, the builder.

Submodules are imported lazily (``from hepsift.features import Scaler`` only imports
:mod:`hepsift.features.scaling`), so ``import hepsift.features`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Scaler"]

_LAZY: dict[str, str] = {
    "Scaler": "hepsift.features.scaling",
    "weighted_quantile": "hepsift.features.scaling",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hepsift.features' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_LAZY))
