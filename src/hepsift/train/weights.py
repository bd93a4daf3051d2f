"""Training-weight policies shared by the model families: negative MC weights and class weights.

``training_weights(y, w, negative=..., class_weight=...)`` is what every family applies to its
``sample_weight`` before fitting:

- ``negative``: ``keep`` the signed weights (for losses that accept them), take their ``abs``
  value, or ``drop`` (zero) the negative ones;
- ``class_weight``: ``None``, ``"balanced"`` (each class gets the same total weight; the mean
  weight over events stays 1) or a dict ``{class index or label: factor}``.

A class whose total weight is not positive after the policy is a :class:`DataError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, suggest

__all__ = [
    "NEGATIVE_POLICIES",
    "check_negative_policy",
    "restore_class_weight",
    "training_weights",
]

NEGATIVE_POLICIES = ("keep", "abs", "drop")
NegativePolicy = Literal["keep", "abs", "drop"]


def check_negative_policy(policy: str) -> None:
    if policy not in NEGATIVE_POLICIES:
        raise ConfigError(
            f"negative_weights '{policy}' is not one of {list(NEGATIVE_POLICIES)}"
            f"{suggest(str(policy), NEGATIVE_POLICIES)}"
        )


def training_weights(
    y: NDArray[np.int64],
    w: NDArray[np.float64],
    *,
    negative: str = "keep",
    class_weight: str | Mapping[Any, float] | None = None,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> NDArray[np.float64]:
    """Weights after the negative-weight policy and class weighting (``y`` encoded 0..K-1).

    ``classes`` (the original labels, index = encoded label) lets ``class_weight`` dict keys be
    the user's labels as well as encoded indices.
    """
    check_negative_policy(negative)
    out = np.asarray(w, dtype=np.float64).copy()
    if negative == "abs":
        out = np.abs(out)
    elif negative == "drop":
        out[out < 0] = 0.0
    k = int(y.max()) + 1 if y.size else 0
    if classes is not None:
        k = max(k, len(classes))
    totals = np.array([out[y == c].sum() for c in range(k)])
    names = [str(c) for c in (classes if classes is not None else range(k))]
    for c in range(k):
        if np.any(y == c) and totals[c] <= 0:
            raise DataError(
                f"class '{names[c]}' has total training weight {totals[c]:.3g} <= 0 under "
                f"negative_weights='{negative}' (try negative_weights='abs')"
            )
    if class_weight is None:
        return out
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(
                f"class_weight '{class_weight}' is not allowed (use 'balanced', a dict or None)"
                f"{suggest(class_weight, ['balanced'])}"
            )
        present = [c for c in range(k) if np.any(y == c)]
        target = y.size / max(len(present), 1)
        for c in present:
            out[y == c] *= target / totals[c]
        return out
    if isinstance(class_weight, Mapping):
        lookup: dict[str, float] = {str(key): float(v) for key, v in class_weight.items()}
        for c in range(k):
            factor = lookup.get(names[c], lookup.get(str(c)))
            if factor is not None:
                out[y == c] *= factor
        unknown = [key for key in lookup if key not in names and key not in map(str, range(k))]
        if unknown:
            raise ConfigError(
                f"class_weight names classes {unknown} that are not in the data "
                f"(classes: {names}){suggest(unknown[0], names)}"
            )
        return out
    raise ConfigError(f"class_weight must be None, 'balanced' or a dict; got {class_weight!r}")


def restore_class_weight(params: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Saved hyperparameters with a dict ``class_weight`` put back (the generic loader drops
    dict-valued hyperparameters; keys come back as strings, which :func:`training_weights`
    accepts)."""
    out = dict(params)
    saved = meta.get("params", {}).get("class_weight")
    if isinstance(saved, dict):
        out["class_weight"] = {str(k): float(v) for k, v in saved.items()}
    return out
