"""Training-weight policies shared by the model families: negative MC weights and class weights.

``training_weights(y, w, negative=..., class_weight=...)`` is what every family applies to its
``sample_weight`` before fitting:

- ``negative``: ``keep`` the signed weights (for losses that accept them), take their ``abs``
  value, or ``drop`` (zero) the negative ones;
- ``class_weight``: ``None``, ``"balanced"`` (each class gets the same total weight; the mean
  weight over events stays 1) or a dict ``{class index or label: factor}``.

A class whose total weight is not positive after the policy is a :class:`DataError`.

The one implementation is :func:`hepsift.dataset.training_weights` (also behind
:meth:`hepsift.dataset.Dataset.training_weight`); it is re-exported here for the model families.
"""

from __future__ import annotations

from typing import Any

from hepsift.dataset import NEGATIVE_POLICIES, check_negative_policy, training_weights

__all__ = [
    "NEGATIVE_POLICIES",
    "check_negative_policy",
    "restore_class_weight",
    "training_weights",
]


def restore_class_weight(params: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Saved hyperparameters with a dict ``class_weight`` put back (the generic loader drops
    dict-valued hyperparameters; keys come back as strings, which :func:`training_weights`
    accepts)."""
    out = dict(params)
    saved = meta.get("params", {}).get("class_weight")
    if isinstance(saved, dict):
        out["class_weight"] = {str(k): float(v) for k, v in saved.items()}
    return out
