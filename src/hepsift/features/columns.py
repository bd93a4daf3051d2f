"""Per-event columns of awkward events, computed once per chunk and shared through a cache.

The feature names (:mod:`hepsift.features.names`) and the selection (:mod:`hepsift.select`)
both read the same jagged branches many times per chunk (``photon_pt`` for slots, pairs and
cuts); the helpers here compute each view once and keep it in a plain ``dict`` ``cache`` that
the caller owns (one per chunk, cleared when the events change):

- :func:`as_float64`: a flat awkward/NumPy column as float64 NumPy;
- :func:`cached_flat`: (content, counts) of a jagged branch (:func:`hepsift.features.jagged.flat`);
- :func:`cached_starts`: the index of each event's first object in that content;
- :func:`cached_slots`: the n leading objects as an (events, n) array with NaN where absent,
  and the presence mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.features.jagged import flat, slot

__all__ = ["F64", "as_float64", "cached_flat", "cached_slots", "cached_starts"]

F64 = NDArray[np.float64]


def as_float64(values: Any) -> F64:
    """A flat (one value per event) awkward or NumPy column as a float64 NumPy array."""
    import awkward as ak

    return np.asarray(ak.to_numpy(values), dtype=np.float64)


def cached_flat(events: Any, branch: str, cache: dict[Any, Any]) -> tuple[Any, Any]:
    """(content, counts) of the jagged ``branch`` of ``events``, computed once per ``cache``."""
    key = ("flat", branch)
    if key not in cache:
        cache[key] = flat(events[branch])
    return cache[key]  # type: ignore[no-any-return]


def cached_starts(branch: str, counts: Any, cache: dict[Any, Any]) -> Any:
    """Offsets of each event's first object of ``branch`` in its flat content (from counts)."""
    key = ("starts", branch)
    if key not in cache:
        cache[key] = np.cumsum(counts) - counts
    return cache[key]


def cached_slots(events: Any, branch: str, n: int, cache: dict[Any, Any]) -> tuple[F64, Any]:
    """(values (events, n) with NaN where absent, presence mask) of the n leading objects."""
    key = ("slots", branch, n)
    if key not in cache:
        content, counts = cached_flat(events, branch, cache)
        starts = cached_starts(branch, counts, cache)
        values = np.stack([slot(content, counts, i, starts=starts) for i in range(n)], axis=1)
        cache[key] = (values, np.arange(n)[None, :] < counts[:, None])
    return cache[key]  # type: ignore[no-any-return]
