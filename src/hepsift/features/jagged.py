"""Jagged object collections: discovery by name, padding with masks, aggregates, filtering.

A *collection* is a family of jagged branches sharing a prefix plus a count branch: ATLAS
``photon_n`` with ``photon_pt, photon_eta, ...``, or NanoAOD ``nPhoton`` with ``Photon_pt, ...``.
Objects are assumed ordered by decreasing pT within each event (true of ATLAS Open Data,
NanoAOD and ``hepsift generate`` output), so "slot i" is the i-th leading object.

Missing values: a slot beyond the number of objects is *absent*; padding fills it with an
explicit ``fill`` value (NaN by default here; the feature builder then replaces NaN by its
documented fill value) and reports a boolean mask (True = object present).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, suggest

__all__ = [
    "ObjectSlots",
    "aggregate",
    "collection_fields",
    "collections",
    "filter_collection",
    "flat",
    "pad",
    "slot",
    "stack_objects",
    "unflat",
]


def collections(fields: Iterable[str]) -> dict[str, str]:
    """Collection name -> its count branch, found from branch names alone.

    ``photon_n`` + ``photon_pt`` -> ``{"photon": "photon_n"}``;
    ``nPhoton`` + ``Photon_pt`` -> ``{"Photon": "nPhoton"}``.
    """
    names = list(fields)
    prefixes = {n.split("_", 1)[0] for n in names if "_" in n}
    out: dict[str, str] = {}
    for n in names:
        if n.endswith("_n") and n[:-2] in prefixes and n[:-2] not in out:
            out[n[:-2]] = n
        elif len(n) > 1 and n[0] == "n" and n[1:] in prefixes and n[1:] not in out:
            out[n[1:]] = n
    return out


def collection_fields(fields: Iterable[str], name: str) -> list[str]:
    """Branches of collection ``name`` (``name_*`` except its count branch)."""
    count = {f"{name}_n", f"n{name}"}
    return [f for f in fields if f.startswith(name + "_") and f not in count]


def flat(values: Any) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """(content, counts): the objects of all events as one NumPy array, and per-event counts."""
    import awkward as ak

    layout = ak.to_layout(values)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):  # the common case (uproot output, our own filtering): zero-copy views
        offsets = np.asarray(layout.offsets.data, dtype=np.int64)
        data = np.asarray(layout.content.data)
        return data[offsets[0] : offsets[-1]], np.diff(offsets)
    counts = np.asarray(ak.num(values, axis=1), dtype=np.int64)
    content = np.asarray(ak.to_numpy(ak.flatten(values, axis=1)))
    return content, counts


def unflat(content: NDArray[Any], counts: NDArray[np.int64]) -> Any:
    """The jagged awkward array of ``content`` split by ``counts`` (inverse of :func:`flat`)."""
    import awkward as ak

    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ak.Array(
        ak.contents.ListOffsetArray(ak.index.Index64(offsets), ak.contents.NumpyArray(content))
    )


def slot(
    content: NDArray[Any],
    counts: NDArray[np.int64],
    i: int,
    *,
    fill: float = np.nan,
    starts: NDArray[np.int64] | None = None,
) -> NDArray[np.float64]:
    """The i-th object's value per event from :func:`flat` output (``fill`` where absent).

    ``starts`` (the index of each event's first object, ``cumsum(counts) - counts``) may be
    passed when several slots of the same collection are taken.
    """
    if starts is None:
        starts = np.cumsum(counts) - counts
    if content.size == 0:
        return np.full(counts.shape, fill, dtype=np.float64)
    idx = np.minimum(starts + i, content.size - 1)
    out = content[idx].astype(np.float64)
    out[counts <= i] = fill
    return out


def pad(
    values: Any, n: int, *, fill: float = np.nan, dtype: Any = np.float64
) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """The first ``n`` entries of each event as an (events, n) array plus a presence mask.

    Events with fewer than ``n`` objects are padded with ``fill``; longer ones truncated.
    """
    if n < 1:
        raise ConfigError(f"pad needs n >= 1 objects; got {n}")
    content, counts = flat(values)
    out = np.empty((counts.size, n), dtype=dtype)
    for i in range(n):
        out[:, i] = slot(content, counts, i, fill=fill)
    mask = np.arange(n)[None, :] < counts[:, None]
    return out, mask


def aggregate(values: Any, how: str, *, empty: float = 0.0) -> NDArray[np.float64]:
    """Per-event ``count`` | ``sum`` | ``max`` | ``min`` | ``mean`` of a jagged array.

    Events without objects give ``empty`` for max/min/mean (0 for count and sum).
    """
    import awkward as ak

    if how == "count":
        return np.asarray(ak.num(values, axis=1), dtype=np.float64)
    if how == "sum":
        return np.asarray(ak.to_numpy(ak.sum(values, axis=1)), dtype=np.float64)
    if how == "mean":
        counts = np.asarray(ak.num(values, axis=1), dtype=np.float64)
        sums = np.asarray(ak.to_numpy(ak.sum(values, axis=1)), dtype=np.float64)
        out = np.full(counts.shape, empty, dtype=np.float64)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out
    funcs = {"max": ak.max, "min": ak.min}
    if how not in funcs:
        allowed = ["count", "sum", "mean", *funcs]
        raise ConfigError(f"aggregate '{how}' is not one of {allowed}{suggest(how, allowed)}")
    red = funcs[how](values, axis=1)
    return np.asarray(ak.to_numpy(ak.fill_none(red, empty)), dtype=np.float64)


def filter_collection(events: Any, name: str, mask: Any) -> Any:
    """``events`` with the objects of collection ``name`` kept where ``mask`` is True.

    ``mask`` is jagged (one boolean per object) or its flat NumPy form (one per object of all
    events, see :func:`flat`). Every read branch of the collection is filtered with the same
    mask and its count branch (if read) is recomputed, so the collection stays consistent.
    """
    import awkward as ak

    fields = list(events.fields)
    members = collection_fields(fields, name)
    if not members:
        raise DataError(f"no branches of collection '{name}' were read")
    if isinstance(mask, ak.Array):
        mask, _ = flat(mask)
    keep = np.asarray(mask, dtype=bool)
    cols = {f: events[f] for f in fields}
    new_counts: NDArray[np.int64] | None = None
    take = np.empty(0, dtype=np.int64)
    for f in members:
        content, counts = flat(cols[f])
        if content.shape != keep.shape:
            raise DataError(
                f"cannot filter collection '{name}': branch '{f}' holds {content.size} objects, "
                f"the cut {keep.size}"
            )
        if new_counts is None:
            take = np.flatnonzero(keep)
            owner = np.repeat(np.arange(counts.size), counts)
            new_counts = np.bincount(owner[take], minlength=counts.size).astype(np.int64)
        cols[f] = unflat(content.take(take), new_counts)
    assert new_counts is not None
    for count in (f"{name}_n", f"n{name}"):
        if count in cols:
            dtype = np.asarray(ak.to_numpy(cols[count][:0])).dtype
            cols[count] = new_counts.astype(dtype)
    return ak.zip(cols, depth_limit=1)


@dataclass(frozen=True)
class ObjectSlots:
    """Fixed-size object slots of several collections, with masks carried through ("mask
    bubbling"): ``values`` (events, slots, fields), ``mask`` (events, slots) True where an object
    is present, ``collection`` (slots,) naming each slot's type and ``fields`` the feature names.
    """

    values: NDArray[np.float32]
    mask: NDArray[np.bool_]
    collection: tuple[str, ...]
    fields: tuple[str, ...]


def stack_objects(
    events: Any,
    spec: Mapping[str, int],
    fields: Sequence[str] = ("pt", "eta", "phi", "E"),
    *,
    fill: float = 0.0,
) -> ObjectSlots:
    """The leading ``spec[c]`` objects of each collection ``c`` side by side, with masks.

    Each object type keeps its own mask slots, concatenated in ``spec`` order, so a set model
    (DeepSets) or a flat model sees which slots are real. Fields a collection lacks are
    ``fill`` (e.g. no ``E`` for NanoAOD: use ``mass``).
    """
    present = set(events.fields)
    values, masks, kinds = [], [], []
    for coll, n in spec.items():
        block = np.full((len(events), n, len(fields)), fill, dtype=np.float32)
        mask = np.zeros((len(events), n), dtype=bool)
        found = False
        for j, f in enumerate(fields):
            branch = f"{coll}_{f}"
            if branch in present:
                found = True
                vals, mask = pad(events[branch], n, fill=fill)
                block[:, :, j] = vals
        if not found:
            avail = sorted(
                set(collections(present)) | {f.split("_")[0] for f in present if "_" in f}
            )
            raise ConfigError(
                f"collection '{coll}' has none of the fields {list(fields)}"
                f"{suggest(coll, avail)} (collections: {', '.join(avail)})"
            )
        values.append(block)
        masks.append(mask)
        kinds.extend([coll] * n)
    return ObjectSlots(
        values=np.concatenate(values, axis=1),
        mask=np.concatenate(masks, axis=1),
        collection=tuple(kinds),
        fields=tuple(fields),
    )
