"""Events -> model inputs: feature names, jagged collections, kinematics, scaling.

- :mod:`hepsift.features.names`: the feature-name grammar (``photon_pt_0``, ``m_gg``,
  ``jet_sum_pt``...): :func:`resolve_feature`, :func:`known_features`, :func:`compute_features`;
- :mod:`hepsift.features.columns`: per-chunk cached column views shared with the selection;
- :mod:`hepsift.features.jagged`: collections found by name, padding, aggregates, object slots;
- :mod:`hepsift.features.objects`: object inputs of set models (values, mask) and their scaler;
- :mod:`hepsift.features.kinematics`: pair quantities with ``vector``;
- :mod:`hepsift.features.scaling`: the weighted :class:`Scaler` saved with a model.

Everything here works on in-memory events and knows nothing of files, samples or weights: the
pipeline that reads sample files into a Dataset is :mod:`hepsift.prepare`. Submodules are
imported lazily (``from hepsift.features import Scaler`` only imports
:mod:`hepsift.features.scaling`), so ``import hepsift.features`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ObjectInputs",
    "ObjectScaler",
    "ObjectSlots",
    "Scaler",
    "aggregate",
    "build_objects",
    "compute_features",
    "known_features",
    "pad",
    "resolve_feature",
    "stack_objects",
]

_LAZY: dict[str, str] = {
    "Scaler": "hepsift.features.scaling",
    "weighted_quantile": "hepsift.features.scaling",
    "compute_features": "hepsift.features.names",
    "known_features": "hepsift.features.names",
    "resolve_feature": "hepsift.features.names",
    "ObjectInputs": "hepsift.features.objects",
    "ObjectScaler": "hepsift.features.objects",
    "build_objects": "hepsift.features.objects",
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
