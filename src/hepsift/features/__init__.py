"""Jagged collections -> model inputs: padding, aggregates, kinematics, scaling, the builder.

Submodules are imported lazily (``from hepsift.features import Scaler`` only imports
:mod:`hepsift.features.scaling`), so ``import hepsift.features`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BuildInfo",
    "ObjectSlots",
    "SampleSpec",
    "Scaler",
    "aggregate",
    "build_dataset",
    "compute_features",
    "known_features",
    "pad",
    "resolve_feature",
    "stack_objects",
]

_LAZY: dict[str, str] = {
    "Scaler": "hepsift.features.scaling",
    "weighted_quantile": "hepsift.features.scaling",
    "BuildInfo": "hepsift.features.build",
    "SampleSpec": "hepsift.features.build",
    "build_dataset": "hepsift.features.build",
    "compute_features": "hepsift.features.build",
    "known_features": "hepsift.features.build",
    "resolve_feature": "hepsift.features.build",
    "ObjectSlots": "hepsift.features.jagged",
    "aggregate": "hepsift.features.jagged",
    "pad": "hepsift.features.jagged",
    "stack_objects": "hepsift.features.jagged",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hepsift.features' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_LAZY))
