"""Training-only reweighting of one variable's spectrum to a target class.

``weights: {reweight: {variable: pt, to: signal, bins: [10, 15, 20, ...]}}`` in a run config:
every class other than ``to`` gets a per-event factor (stored as
:attr:`hepsift.dataset.Dataset.train_factor`, used by
:meth:`~hepsift.dataset.Dataset.training_weight` only) so that its weighted histogram of
``variable`` in ``bins`` has the target class's shape; its total weight is unchanged. Events
outside the bins take the factor of the nearest bin; a bin where the class has no weight
keeps factor 1 (nothing to scale). Evaluation keeps the physics weights, so a classifier
trained this way cannot use the variable's spectrum, and the variable itself need not be a
feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, suggest

__all__ = ["check_target", "reweight_factors"]


def reweight_factors(
    values: NDArray[np.floating],
    y: NDArray[np.int64],
    weight: NDArray[np.float64],
    *,
    target: int,
    bins: Sequence[float] | NDArray[np.floating],
) -> NDArray[np.float64]:
    """Per-event factors bringing each class's |weight|-histogram of ``values`` in ``bins``
    (increasing edges) to the shape of class ``target``'s; 1 for the target class."""
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ConfigError(
            f"weights.reweight.bins must be at least two increasing edges; got {list(edges)}"
        )
    x = np.asarray(values, dtype=np.float64)
    w = np.abs(np.asarray(weight, dtype=np.float64))
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1

    def shape(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        h = np.bincount(idx[mask], weights=w[mask], minlength=nb).astype(np.float64)
        total = float(h.sum())
        return h / total if total > 0 else h

    target_shape = shape(y == target)
    out = np.ones(len(x), dtype=np.float64)
    for c in np.unique(y):
        if c == target:
            continue
        mask = y == c
        own = shape(mask)
        ratio = np.divide(target_shape, own, out=np.ones(nb), where=own > 0)
        f = ratio[idx[mask]]
        norm = np.sum(w[mask] * f)
        if norm <= 0 < np.sum(w[mask]):
            raise DataError(
                f"weights.reweight: class {int(c)} has no weight where the target class has; "
                "the spectra do not overlap in these bins"
            )
        out[mask] = f * (np.sum(w[mask]) / norm if norm > 0 else 1.0)  # keep the class total
    return out


def check_target(to: str, class_names: Sequence[str]) -> int:
    """The index of class ``to`` (ConfigError naming the classes when unknown)."""
    if to not in class_names:
        raise ConfigError(
            f"weights.reweight.to: unknown class {to!r}; allowed: {', '.join(class_names)}"
            f"{suggest(to, class_names)}"
        )
    return list(class_names).index(to)
