"""Feature names -> per-event columns: the grammar of the names a config lists.

Feature names (chosen in a config list; an unknown one is a ConfigError with the nearest name):

- any scalar branch: ``met_et``, ``met_phi``, ``photon_n``, ``nJet``, ``m_wwbb`` (HEPMASS)...
- ``{coll}_{field}_{i}``: field of the i-th leading object: ``photon_pt_0``, ``jet_eta_1``
- ``{coll}_valid_{i}``: 1 if the i-th object exists else 0 (the slot mask as a feature)
- ``{coll}_n``: number of objects (after object cuts)
- ``{coll}_{sum|max|min|mean}_{field}``: aggregates, e.g. ``jet_sum_pt``, ``jet_max_MV2c10``
- ``ht``: scalar sum of jet pT (GeV)
- ``{q}_{ab}``: pair quantities (:data:`hepsift.features.kinematics.PAIR_QUANTITIES`:
  m, pt, eta, y, phi, deta, dphi, dr, ptt, costhetastar) of the two leading objects of one
  collection (``m_gg``, ``deta_jj``, ``ptt_gg``, ``costhetastar_gg``) or the leading objects of
  two (``dr_gj``); letters: g photon, j jet, l lep, e electron, u muon.
- ``ptom_{aa}_{i}``: pT of object i over the pair mass, e.g. ``ptom_gg_0`` = pT_1 / m_gg.

Missing values: an absent object (slot beyond the count, or a pair quantity with fewer than two
objects), NaN/inf and the sentinels (default -999) are replaced by ``fill_value`` (default 0.0)
in every column; ``missing_indicators=[name, ...]`` appends a ``{name}_missing`` 0/1 column for
the features where that information matters.

The same names serve the selection (:mod:`hepsift.select`: ``105 < m_gg < 160``), which is why
this module sits below it and knows nothing of files, samples or weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, nearest, suggest
from hepsift.features.columns import F64, as_float64, cached_slots
from hepsift.features.jagged import aggregate, collections
from hepsift.features.kinematics import PAIR_QUANTITIES, four_vector, pair_quantity

__all__ = [
    "AGGREGATES",
    "PAIR_LETTERS",
    "Feature",
    "compute_features",
    "known_features",
    "resolve_feature",
]

#: pair letters -> candidate collection names (first one present wins)
PAIR_LETTERS: dict[str, tuple[str, ...]] = {
    "g": ("photon", "Photon"),
    "j": ("jet", "Jet"),
    "l": ("lep", "Lepton"),
    "e": ("el", "Electron"),
    "u": ("mu", "Muon"),
}
AGGREGATES = ("sum", "max", "min", "mean")


@dataclass(frozen=True)
class Feature:
    """A named per-event feature: the branches it reads and how to compute it (float64)."""

    name: str
    requires: tuple[str, ...]
    _fn: Callable[[Any, dict[Any, Any]], F64] = field(repr=False)

    def compute(self, events: Any, cache: dict[Any, Any] | None = None) -> F64:
        """The feature per event; ``cache`` shares intermediate results between features."""
        if cache is None:
            return self._fn(events, {})
        key = ("feature", self.name)
        if key not in cache:
            cache[key] = self._fn(events, cache)
        return cache[key]  # type: ignore[no-any-return]


def _p4_requires(coll: str, have: set[str]) -> tuple[str, ...]:
    req = [f"{coll}_pt", f"{coll}_eta", f"{coll}_phi"]
    for extra in (f"{coll}_E", f"{coll}_mass"):
        if extra in have:
            req.append(extra)
            break
    return tuple(req)


def _p4(events: Any, coll: str, n: int, i: int, req: tuple[str, ...], cache: dict[Any, Any]) -> Any:
    key = ("p4", coll, n, i)
    if key not in cache:
        pt, eta, phi = (cached_slots(events, b, n, cache)[0][:, i] for b in req[:3])
        extra: dict[str, F64] = {}
        if len(req) > 3:
            kind = "energy" if req[3].endswith("_E") else "mass"
            extra[kind] = cached_slots(events, req[3], n, cache)[0][:, i]
        cache[key] = four_vector(pt, eta, phi, **extra)
    return cache[key]


def _pair_collection(letter: str, colls: Mapping[str, str], have: set[str]) -> str | None:
    for c in PAIR_LETTERS.get(letter, ()):
        if c in colls or f"{c}_pt" in have:
            return c
    return None


FeatureFn = Callable[[Any, dict[Any, Any]], F64]


def _slot_fn(branch: str, i: int, *, mask: bool) -> FeatureFn:
    def fn(ev: Any, cache: dict[Any, Any]) -> F64:
        values, present = cached_slots(ev, branch, i + 1, cache)
        return present[:, i].astype(np.float64) if mask else values[:, i]

    return fn


def _agg_fn(branch: str, how: str, empty: float) -> FeatureFn:
    def fn(ev: Any, cache: dict[Any, Any]) -> F64:
        return aggregate(ev[branch], how, empty=empty)

    return fn


@dataclass(frozen=True)
class _Branches:
    """The available branch names seen as scalars, collections and collection members."""

    avail: list[str]
    have: set[str]
    colls: dict[str, str]
    members: dict[str, str]  # member branch -> its collection

    @classmethod
    def of(cls, available: Iterable[str]) -> _Branches:
        avail = list(available)
        colls = collections(avail)
        members = {f: c for c in colls for f in avail if f.startswith(c + "_") and f != colls[c]}
        return cls(avail, set(avail), dict(colls), members)


def resolve_feature(name: str, available: Iterable[str], *, where: str = "features") -> Feature:
    """The :class:`Feature` called ``name`` given the available branch names."""
    br = _Branches.of(available)
    if name in br.have and name not in br.members:
        return Feature(name, (name,), lambda ev, cache: as_float64(ev[name]))
    if name in br.members:
        coll = br.members[name]
        raise ConfigError(
            f"{where}: '{name}' holds one value per object; choose slots such as "
            f"'{name}_0', '{name}_1' or an aggregate '{coll}_max_{name[len(coll) + 1 :]}'"
        )
    for pattern in (_collection_feature, _ht_feature, _ptom_feature, _pair_feature):
        feat = pattern(name, br)
        if feat is not None:
            return feat
    hints = nearest(name, known_features(br.avail), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
    raise ConfigError(
        f"{where}: unknown feature '{name}'{hint} (see hepsift.features.names for the name "
        "patterns: branch, coll_field_i, coll_n, coll_sum_field, ht, m_gg, deta_jj, ptom_gg_0...)"
    )


def _collection_feature(name: str, br: _Branches) -> Feature | None:
    """``{coll}_n``, ``{coll}_valid_{i}``, ``{coll}_{field}_{i}``, ``{coll}_{agg}_{field}``;
    the longest matching collection name first."""
    for c in sorted(br.colls, key=len, reverse=True):
        if not name.startswith(c + "_"):
            continue
        rest = name[len(c) + 1 :]
        if rest == "n":
            first = next(f for f in br.avail if br.members.get(f) == c)
            return Feature(name, (first, br.colls[c]), _agg_fn(first, "count", 0.0))
        feat = _slot_feature(name, c, rest, br)
        if feat is not None:
            return feat
        m = re.fullmatch(r"(sum|max|min|mean)_(.+)", rest)
        if m and f"{c}_{m.group(2)}" in br.have:
            how, branch = m.group(1), f"{c}_{m.group(2)}"
            return Feature(name, (branch, br.colls[c]), _agg_fn(branch, how, np.nan))
    return None


def _slot_feature(name: str, c: str, rest: str, br: _Branches) -> Feature | None:
    """``{c}_valid_{i}`` (slot mask) or ``{c}_{field}_{i}`` (field of the i-th object)."""
    m = re.fullmatch(r"(.+)_(\d+)", rest)
    if not m:
        return None
    fld, i = m.group(1), int(m.group(2))
    if fld == "valid":
        first = (
            f"{c}_pt" if f"{c}_pt" in br.have else next(f for f in br.members if br.members[f] == c)
        )
        # the count branch is read too: without it a later resolve over the read fields
        # would not see ``c`` as a collection
        return Feature(name, (first, br.colls[c]), _slot_fn(first, i, mask=True))
    branch = f"{c}_{fld}"
    if branch in br.have:
        return Feature(name, (branch, br.colls[c]), _slot_fn(branch, i, mask=False))
    return None


def _ht_feature(name: str, br: _Branches) -> Feature | None:
    """``ht``: scalar sum of jet pT."""
    if name != "ht":
        return None
    jet = _pair_collection("j", br.colls, br.have)
    if jet is not None and f"{jet}_pt" in br.have:
        return Feature(name, (f"{jet}_pt",), _agg_fn(f"{jet}_pt", "sum", 0.0))
    return None


def _ptom_feature(name: str, br: _Branches) -> Feature | None:
    """``ptom_{aa}_{i}``: pT of object i over the mass of the leading pair."""
    m = re.fullmatch(r"ptom_([a-z])\1_([01])", name)
    if not m:
        return None
    pc = _pair_collection(m.group(1), br.colls, br.have)
    if pc is None:
        return None
    req = _p4_requires(pc, br.have)
    i = int(m.group(2))

    def ptom(ev: Any, cache: dict[Any, Any]) -> F64:
        a, b = _p4(ev, pc, 2, 0, req, cache), _p4(ev, pc, 2, 1, req, cache)
        mass = pair_quantity("m", a, b)
        pt = cached_slots(ev, req[0], 2, cache)[0][:, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            return pt / mass

    return Feature(name, req, ptom)


def _pair_feature(name: str, br: _Branches) -> Feature | None:
    """``{q}_{ab}``: a pair quantity of two leading objects (one collection or two)."""
    m = re.fullmatch(r"([a-z]+)_([a-z])([a-z])", name)
    if not (m and m.group(1) in PAIR_QUANTITIES):
        return None
    q, la, lb = m.groups()
    ca, cb = _pair_collection(la, br.colls, br.have), _pair_collection(lb, br.colls, br.have)
    if ca is None or cb is None:
        return None
    ra, rb = _p4_requires(ca, br.have), _p4_requires(cb, br.have)
    same = ca == cb

    def pair(ev: Any, cache: dict[Any, Any]) -> F64:
        if same:
            a, b = _p4(ev, ca, 2, 0, ra, cache), _p4(ev, ca, 2, 1, ra, cache)
        else:
            a, b = _p4(ev, ca, 1, 0, ra, cache), _p4(ev, cb, 1, 0, rb, cache)
        return pair_quantity(q, a, b)

    return Feature(name, tuple(dict.fromkeys(ra + rb)), pair)


def known_features(available: Iterable[str], *, slots: int = 4) -> list[str]:
    """Example valid feature names for these branches (used for nearest-name hints)."""
    avail = list(available)
    have = set(avail)
    colls = collections(avail)
    members = {f for c in colls for f in avail if f.startswith(c + "_") and f != colls[c]}
    out = [a for a in avail if a not in members]
    for c in colls:
        out.append(f"{c}_n")
        for f in avail:
            if f in members and f.startswith(c + "_"):
                fld = f[len(c) + 1 :]
                out.extend(f"{f}_{i}" for i in range(slots))
                out.extend(f"{c}_{a}_{fld}" for a in AGGREGATES)
        out.extend(f"{c}_valid_{i}" for i in range(slots))
    letters = [k for k in PAIR_LETTERS if _pair_collection(k, colls, have)]
    if "j" in letters:
        out.append("ht")
    for a in letters:
        out.extend(f"ptom_{a}{a}_{i}" for i in (0, 1))
        for b in letters:
            out.extend(f"{q}_{a}{b}" for q in PAIR_QUANTITIES)
    return list(dict.fromkeys(out))


def compute_features(
    events: Any,
    names: Sequence[str],
    *,
    fill_value: float = 0.0,
    sentinels: Sequence[float] = (-999.0,),
    missing_indicators: Sequence[str] = (),
) -> tuple[NDArray[np.float32], tuple[str, ...]]:
    """(X float32 (events, features), column names) for the feature ``names``.

    Absent objects, NaN/inf and ``sentinels`` become ``fill_value``; each name listed in
    ``missing_indicators`` adds a ``{name}_missing`` column (1 where the value was missing).
    """
    names = list(names)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"features: names repeated {dup}")
    for ind in missing_indicators:
        if ind not in names:
            raise ConfigError(
                f"features: missing_indicators names '{ind}', which is not among the features"
                f"{suggest(ind, names)}"
            )
    fields_ = list(events.fields)
    cache: dict[Any, Any] = {}
    n = len(events)
    X = np.empty((n, len(names) + len(missing_indicators)), dtype=np.float32)
    sent = np.asarray(list(sentinels), dtype=np.float64)
    for j, name in enumerate(names):
        v = resolve_feature(name, fields_).compute(events, cache)
        v = np.asarray(v, dtype=np.float64).reshape(n)
        missing = ~np.isfinite(v)
        if sent.size:
            missing |= np.isin(v, sent)
        if missing.any():
            v = np.where(missing, fill_value, v)
        X[:, j] = v
        if name in missing_indicators:
            X[:, len(names) + list(missing_indicators).index(name)] = missing
    out_names = (*names, *(f"{m}_missing" for m in missing_indicators))
    return X, tuple(out_names)
