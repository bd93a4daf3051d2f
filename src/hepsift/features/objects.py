"""Object inputs for set models: per-collection fields, a type indicator, physics transforms,
masks and the object scaler.

:func:`build_objects` turns the jagged collections of a chunk of events into an
:class:`ObjectInputs` value, ``values`` float32 (events, slots, fields) and ``mask`` bool
(events, slots) (True = an object is present), the contract every set model takes as
``objects=(values, mask)``. Slots are concatenated per collection in the order given
(``{"photon": 2, "jet": 4, "lep": 2, "met": 1}``), each collection's leading objects first.

Fields (one shared layout for every collection; a field a collection does not have is 0):

- kinematics: ``log_pt`` (log of pT in GeV), ``eta_rel`` (eta minus the rapidity of the
  reference system, by default the diphoton system of the two leading photons; 0 for MET),
  ``dphi`` (phi minus the reference system's phi, wrapped into [-pi, pi)) and ``log_E``;
- per-collection extras, named ``{collection}_{field}``: photons ``isolation`` (ptcone30 / pT)
  and ``id`` (tight ID, 0/1); jets ``btag`` (MV2c10 score); leptons ``charge`` and
  ``flavour`` (0 electron, 1 muon);
- the type indicator: one-hot ``is_{collection}``.

MET is a one-element set (pT = E = ``met_et``, phi = ``met_phi``), present in every event.
Absent slots hold 0 and are False in the mask; no consumer may read them.

:class:`ObjectScaler` standardises the fields over the *present* objects of the training
events only (|weight|-weighted); type indicators are left as they are. It is saved with the
model (:meth:`ObjectScaler.to_dict`, plain JSON).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError, suggest
from hepsift.features.jagged import pad

__all__ = [
    "COLLECTION_FIELDS",
    "KINEMATIC_FIELDS",
    "ObjectInputs",
    "ObjectScaler",
    "as_object_inputs",
    "build_objects",
    "check_object_spec",
    "object_branches",
    "object_field_names",
]

#: the kinematic fields every collection may have (shared columns of the layout)
KINEMATIC_FIELDS = ("pt", "eta", "phi", "E")
#: collection -> the fields it offers (the default: all of them)
COLLECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "photon": ("pt", "eta", "phi", "E", "isolation", "id"),
    "jet": ("pt", "eta", "phi", "E", "btag"),
    "lep": ("pt", "eta", "phi", "E", "charge", "flavour"),
    "met": ("pt", "phi"),
}
#: extra field -> the branch suffix it is read from
_EXTRA_BRANCH = {
    "isolation": "ptcone30",
    "id": "isTightID",
    "btag": "MV2c10",
    "charge": "charge",
    "flavour": "type",
}
_KIN_COLUMN = {"pt": "log_pt", "eta": "eta_rel", "phi": "dphi", "E": "log_E"}
_MET_BRANCH = {"pt": "met_et", "phi": "met_phi", "E": "met_et"}
_PT_FLOOR_GEV = 1e-3  # log of pT/E below this is clamped (never log(0))


@dataclass(frozen=True, eq=False)
class ObjectInputs:
    """``values`` float32 (n, slots, fields), ``mask`` bool (n, slots), the names of the fields
    and the collection of each slot. Unpacks as ``values, mask = objects``; indexing with an
    event index or boolean mask gives the selected events."""

    values: NDArray[np.float32]
    mask: NDArray[np.bool_]
    fields: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        values = np.ascontiguousarray(self.values, dtype=np.float32)
        mask = np.ascontiguousarray(self.mask, dtype=bool)
        if values.ndim != 3:
            raise DataError(
                f"objects values must be 3-D (events, slots, fields); got {values.shape}"
            )
        if mask.shape != values.shape[:2]:
            raise DataError(
                f"objects mask must have shape {values.shape[:2]} (events, slots); got {mask.shape}"
            )
        fields = tuple(self.fields) or tuple(f"f{i}" for i in range(values.shape[2]))
        colls = tuple(self.collections) or ("objects",) * values.shape[1]
        if len(fields) != values.shape[2] or len(colls) != values.shape[1]:
            raise DataError(
                f"objects: {len(fields)} field names and {len(colls)} slot collections for values "
                f"of shape {values.shape}"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "collections", colls)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __iter__(self) -> Iterator[Any]:
        yield self.values
        yield self.mask

    def __getitem__(self, index: ArrayLike) -> ObjectInputs:
        idx = np.asarray(index)
        return ObjectInputs(self.values[idx], self.mask[idx], self.fields, self.collections)

    @property
    def n_slots(self) -> int:
        return int(self.values.shape[1])

    @property
    def n_fields(self) -> int:
        return int(self.values.shape[2])

    @staticmethod
    def concatenate(parts: Sequence[ObjectInputs]) -> ObjectInputs:
        """The events of ``parts`` (same layout) one after the other."""
        if not parts:
            raise DataError("no object inputs to concatenate")
        return ObjectInputs(
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.mask for p in parts]),
            parts[0].fields,
            parts[0].collections,
        )


def as_object_inputs(objects: Any, *, where: str = "objects") -> ObjectInputs:
    """``objects`` (an :class:`ObjectInputs` or a ``(values, mask)`` pair) as ObjectInputs."""
    if isinstance(objects, ObjectInputs):
        return objects
    try:
        values, mask = objects
    except (TypeError, ValueError):
        raise DataError(
            f"{where} must be a (values, mask) pair: float32 (n, slots, fields), bool "
            f"(n, slots); got {type(objects).__name__}"
        ) from None
    return ObjectInputs(np.asarray(values), np.asarray(mask))


# -- the layout -------------------------------------------------------------------------------


def check_object_spec(
    collections: Mapping[str, int], fields: Mapping[str, Sequence[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """The fields of each collection (defaults filled in); ConfigError on unknown names."""
    if not collections:
        raise ConfigError("objects: give at least one collection (e.g. {photon: 2, jet: 4})")
    fields = dict(fields or {})
    for name in fields:
        if name not in collections:
            raise ConfigError(
                f"objects.fields: '{name}' is not one of the collections "
                f"{list(collections)}{suggest(name, list(collections))}"
            )
    out: dict[str, tuple[str, ...]] = {}
    for name, n in collections.items():
        if name not in COLLECTION_FIELDS:
            known = list(COLLECTION_FIELDS)
            raise ConfigError(
                f"objects: unknown collection '{name}'{suggest(name, known)} (allowed: "
                f"{', '.join(known)})"
            )
        if int(n) < 1 or (name == "met" and int(n) != 1):
            allowed = "exactly 1 (a one-element set)" if name == "met" else ">= 1"
            raise ConfigError(f"objects: collection '{name}' needs {allowed} slots; got {n}")
        chosen = tuple(fields.get(name, COLLECTION_FIELDS[name]))
        for f in chosen:
            if f not in COLLECTION_FIELDS[name]:
                allowed_f = COLLECTION_FIELDS[name]
                raise ConfigError(
                    f"objects.fields.{name}: unknown field '{f}'{suggest(f, allowed_f)} "
                    f"(allowed: {', '.join(allowed_f)})"
                )
        if not chosen:
            raise ConfigError(f"objects.fields.{name}: give at least one field")
        out[name] = chosen
    return out


def object_field_names(
    collections: Mapping[str, int], fields: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """The names of the value fields, in layout order (module docstring)."""
    spec = check_object_spec(collections, fields)
    used = {f for fs in spec.values() for f in fs}
    kin = [_KIN_COLUMN[f] for f in KINEMATIC_FIELDS if f in used]
    extra = [f"{c}_{f}" for c, fs in spec.items() for f in fs if f not in KINEMATIC_FIELDS]
    return (*kin, *extra, *(f"is_{c}" for c in spec))


def object_branches(
    collections: Mapping[str, int],
    fields: Mapping[str, Sequence[str]] | None = None,
    *,
    reference: str | None = "photon",
) -> set[str]:
    """The branches :func:`build_objects` reads."""
    spec = check_object_spec(collections, fields)
    need: set[str] = set()
    for c, fs in spec.items():
        for f in fs:
            need.add(_branch(c, f))
        if "isolation" in fs:
            need.add(f"{c}_pt")
    if reference is not None:
        need |= {f"{reference}_{f}" for f in KINEMATIC_FIELDS}
    return need


def _branch(collection: str, field: str) -> str:
    if collection == "met":
        return _MET_BRANCH[field]
    return f"{collection}_{_EXTRA_BRANCH.get(field, field)}"


# -- building ---------------------------------------------------------------------------------


def build_objects(
    events: Any,
    collections: Mapping[str, int],
    fields: Mapping[str, Sequence[str]] | None = None,
    *,
    reference: str | None = "photon",
) -> ObjectInputs:
    """The object inputs of ``events`` (an awkward record array of branches, energies in GeV).

    ``collections``: name -> slots (``met`` takes 1); ``fields``: per-collection field lists
    (default :data:`COLLECTION_FIELDS`); ``reference``: the collection whose two leading
    objects define the system eta and phi are taken relative to (None: absolute eta, phi;
    events without such objects use rapidity 0 and phi 0).
    """
    spec = check_object_spec(collections, fields)
    names = object_field_names(collections, fields)
    col = {name: j for j, name in enumerate(names)}
    n = len(events)
    present = set(events.fields)
    y_ref, phi_ref = _reference(events, present, reference, n)
    blocks, masks, kinds = [], [], []
    for coll, chosen in spec.items():
        k = int(collections[coll])
        block = np.zeros((n, k, len(names)), dtype=np.float32)
        raw, mask = _read(events, present, coll, chosen, k)
        for f in chosen:
            block[:, :, col[_column(coll, f)]] = _transform(coll, f, raw, y_ref, phi_ref)
        block[:, :, col[f"is_{coll}"]] = 1.0
        block[~mask] = 0.0
        blocks.append(block)
        masks.append(mask)
        kinds.extend([coll] * k)
    return ObjectInputs(
        np.concatenate(blocks, axis=1), np.concatenate(masks, axis=1), names, tuple(kinds)
    )


def _column(coll: str, field: str) -> str:
    return _KIN_COLUMN[field] if field in KINEMATIC_FIELDS else f"{coll}_{field}"


def _get(events: Any, present: set[str], branch: str) -> Any:
    if branch not in present:
        raise ConfigError(
            f"objects: no branch '{branch}' in the events{suggest(branch, sorted(present))}"
        )
    return events[branch]


def _read(
    events: Any, present: set[str], coll: str, chosen: Sequence[str], k: int
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_]]:
    """Raw (events, k) values of each needed field, and the presence mask."""
    n = len(events)
    need = set(chosen) | ({"pt"} if "isolation" in chosen else set())
    raw: dict[str, NDArray[np.float64]] = {}
    mask = np.ones((n, k), dtype=bool)
    for f in sorted(need):
        b = _get(events, present, _branch(coll, f))
        if coll == "met":
            raw[f] = np.asarray(b, dtype=np.float64).reshape(n, 1)
        else:
            raw[f], mask = pad(b, k, fill=0.0)
    return raw, mask


def _transform(
    coll: str,
    field: str,
    raw: Mapping[str, NDArray[np.float64]],
    y_ref: NDArray[np.float64],
    phi_ref: NDArray[np.float64],
) -> NDArray[np.float64]:
    v = raw[field]
    if field in ("pt", "E"):
        return np.log(np.maximum(v, _PT_FLOOR_GEV))
    if field == "eta":
        return v - y_ref[:, None]
    if field == "phi":
        return _wrap(v - phi_ref[:, None])
    if field == "isolation":
        return np.asarray(np.divide(v, raw["pt"], out=np.zeros_like(v), where=raw["pt"] > 0))
    if field == "flavour":
        return np.asarray(np.abs(v) == 13, dtype=np.float64)
    return np.asarray(v, dtype=np.float64)


def _wrap(dphi: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angles into [-pi, pi)."""
    return np.asarray((dphi + np.pi) % (2 * np.pi) - np.pi)


def _reference(
    events: Any, present: set[str], reference: str | None, n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(rapidity, phi) per event of the sum of the two leading ``reference`` objects."""
    zero = np.zeros(n)
    if reference is None or f"{reference}_pt" not in present:
        return zero, zero.copy()
    pt, m = pad(_get(events, present, f"{reference}_pt"), 2, fill=0.0)
    eta, _ = pad(_get(events, present, f"{reference}_eta"), 2, fill=0.0)
    phi, _ = pad(_get(events, present, f"{reference}_phi"), 2, fill=0.0)
    e, _ = pad(_get(events, present, f"{reference}_E"), 2, fill=0.0)
    w = m.astype(np.float64)
    px = np.sum(w * pt * np.cos(phi), axis=1)
    py = np.sum(w * pt * np.sin(phi), axis=1)
    pz = np.sum(w * pt * np.sinh(eta), axis=1)
    en = np.sum(w * e, axis=1)
    num, den = en + pz, en - pz
    ok = (num > 0) & (den > 0)
    y = np.zeros(n)
    y[ok] = 0.5 * np.log(num[ok] / den[ok])
    phi_sys = np.where(m.any(axis=1), np.arctan2(py, px), 0.0)
    return y, phi_sys


# -- scaling ----------------------------------------------------------------------------------


class ObjectScaler:
    """Standardise object fields over the present objects of the training events.

    Fields named ``is_*`` (the type indicator) are left as they are; absent slots become 0.
    """

    def __init__(self) -> None:
        self.mean_: NDArray[np.float64] | None = None
        self.scale_: NDArray[np.float64] | None = None

    def fit(
        self,
        objects: Any,
        sample_weight: ArrayLike | None = None,
        *,
        fields: Sequence[str] | None = None,
    ) -> ObjectScaler:
        obj = as_object_inputs(objects)
        names = tuple(fields) if fields is not None else obj.fields
        vals = obj.values[obj.mask].astype(np.float64)  # (present objects, fields)
        if sample_weight is None:
            w = np.ones(vals.shape[0])
        else:
            ev_w = np.abs(np.asarray(sample_weight, dtype=np.float64))
            w = np.broadcast_to(ev_w[:, None], obj.mask.shape)[obj.mask]
        total = float(w.sum())
        mean = np.zeros(obj.n_fields)
        scale = np.ones(obj.n_fields)
        if total > 0:
            mean = (w[:, None] * vals).sum(axis=0) / total
            var = (w[:, None] * (vals - mean) ** 2).sum(axis=0) / total
            std = np.sqrt(var)
            scale = np.where(std > 1e-12, std, 1.0)
        indicator = np.array([f.startswith("is_") for f in names], dtype=bool)
        mean[indicator] = 0.0
        scale[indicator] = 1.0
        self.mean_, self.scale_ = mean, scale
        return self

    def transform(self, objects: Any) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """(scaled values, mask) with absent slots 0."""
        if self.mean_ is None or self.scale_ is None:
            raise DataError("ObjectScaler is not fitted")
        obj = as_object_inputs(objects)
        if obj.n_fields != self.mean_.size:
            raise DataError(
                f"objects have {obj.n_fields} fields; the scaler was fitted on {self.mean_.size}"
            )
        out = (obj.values - self.mean_.astype(np.float32)) / self.scale_.astype(np.float32)
        out[~obj.mask] = 0.0
        return out.astype(np.float32), obj.mask

    def to_dict(self) -> dict[str, list[float]]:
        if self.mean_ is None or self.scale_ is None:
            raise DataError("ObjectScaler is not fitted")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectScaler:
        out = cls()
        mean = np.asarray(data["mean"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape or not np.all(scale > 0):
            raise DataError("object scaler: 'mean' and 'scale' must be equal-length, scale > 0")
        out.mean_, out.scale_ = mean, scale
        return out
