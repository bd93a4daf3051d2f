"""Feature names -> columns, physics weights, and the top-level :func:`build_dataset`.

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

Event weights (per sample): ``mcWeight * scale factors * XSection [pb] * lumi [pb^-1] /
SumWeights * kfactor``; cross section and sum of weights come from the branches, or from the
sample spec / the generator's ``manifest.json``. Real data (``kind="data"``, or auto-detected:
no ``mcWeight``/``genWeight`` branch, or all of it zero as in ATLAS Open Data data files) gets
weight 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, nearest, suggest

__all__ = [
    "DEFAULT_SCALE_FACTORS",
    "BuildInfo",
    "Feature",
    "SampleSpec",
    "build_dataset",
    "compute_features",
    "known_features",
    "resolve_feature",
]

F64 = NDArray[np.float64]

#: pair letters -> candidate collection names (first one present wins)
PAIR_LETTERS: dict[str, tuple[str, ...]] = {
    "g": ("photon", "Photon"),
    "j": ("jet", "Jet"),
    "l": ("lep", "Lepton"),
    "e": ("el", "Electron"),
    "u": ("mu", "Muon"),
}
AGGREGATES = ("sum", "max", "min", "mean")
DEFAULT_SCALE_FACTORS = ("scaleFactor_PHOTON", "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP")
EVENT_NUMBER_BRANCHES = ("eventNumber", "event", "event_number")


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


def _np(values: Any) -> F64:
    import awkward as ak

    return np.asarray(ak.to_numpy(values), dtype=np.float64)


def _flat_cached(events: Any, branch: str, cache: dict[Any, Any]) -> tuple[Any, Any]:
    key = ("flat", branch)
    if key not in cache:
        from hepsift.features.jagged import flat

        cache[key] = flat(events[branch])
    return cache[key]  # type: ignore[no-any-return]


def _starts_cached(branch: str, counts: Any, cache: dict[Any, Any]) -> Any:
    key = ("starts", branch)
    if key not in cache:
        cache[key] = np.cumsum(counts) - counts
    return cache[key]


def _slots(events: Any, branch: str, n: int, cache: dict[Any, Any]) -> tuple[F64, Any]:
    """(values (events, n) with NaN where absent, presence mask) of the n leading objects."""
    key = ("slots", branch, n)
    if key not in cache:
        from hepsift.features.jagged import slot

        content, counts = _flat_cached(events, branch, cache)
        starts = _starts_cached(branch, counts, cache)
        values = np.stack([slot(content, counts, i, starts=starts) for i in range(n)], axis=1)
        cache[key] = (values, np.arange(n)[None, :] < counts[:, None])
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
        from hepsift.features.kinematics import four_vector

        pt, eta, phi = (_slots(events, b, n, cache)[0][:, i] for b in req[:3])
        extra: dict[str, F64] = {}
        if len(req) > 3:
            kind = "energy" if req[3].endswith("_E") else "mass"
            extra[kind] = _slots(events, req[3], n, cache)[0][:, i]
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
        values, present = _slots(ev, branch, i + 1, cache)
        return present[:, i].astype(np.float64) if mask else values[:, i]

    return fn


def _agg_fn(branch: str, how: str, empty: float) -> FeatureFn:
    def fn(ev: Any, cache: dict[Any, Any]) -> F64:
        from hepsift.features.jagged import aggregate

        return aggregate(ev[branch], how, empty=empty)

    return fn


def resolve_feature(name: str, available: Iterable[str], *, where: str = "features") -> Feature:
    """The :class:`Feature` called ``name`` given the available branch names."""
    from hepsift.features.jagged import collections
    from hepsift.features.kinematics import PAIR_QUANTITIES, pair_quantity

    avail = list(available)
    have = set(avail)
    colls = collections(avail)
    members = {f: c for c in colls for f in avail if f.startswith(c + "_") and f != colls[c]}

    if name in have and name not in members:
        return Feature(name, (name,), lambda ev, cache: _np(ev[name]))
    if name in members:
        raise ConfigError(
            f"{where}: '{name}' holds one value per object; choose slots such as "
            f"'{name}_0', '{name}_1' or an aggregate '{members[name]}_max_{name[len(members[name]) + 1 :]}'"
        )
    for c in sorted(colls, key=len, reverse=True):
        if not name.startswith(c + "_"):
            continue
        rest = name[len(c) + 1 :]
        if rest == "n":
            first = next(f for f in avail if f in members and members[f] == c)
            return Feature(name, (first,), _agg_fn(first, "count", 0.0))
        m = re.fullmatch(r"(.+)_(\d+)", rest)
        if m:
            fld, i = m.group(1), int(m.group(2))
            if fld == "valid":
                first = (
                    f"{c}_pt" if f"{c}_pt" in have else next(f for f in members if members[f] == c)
                )
                return Feature(name, (first,), _slot_fn(first, i, mask=True))
            branch = f"{c}_{fld}"
            if branch in have:
                return Feature(name, (branch,), _slot_fn(branch, i, mask=False))
        m = re.fullmatch(r"(sum|max|min|mean)_(.+)", rest)
        if m and f"{c}_{m.group(2)}" in have:
            how, branch = m.group(1), f"{c}_{m.group(2)}"
            return Feature(name, (branch,), _agg_fn(branch, how, np.nan))
    if name == "ht":
        jet = _pair_collection("j", colls, have)
        if jet is not None and f"{jet}_pt" in have:
            return Feature(name, (f"{jet}_pt",), _agg_fn(f"{jet}_pt", "sum", 0.0))
    m = re.fullmatch(r"ptom_([a-z])\1_([01])", name)
    if m:
        pc = _pair_collection(m.group(1), colls, have)
        if pc is not None:
            req = _p4_requires(pc, have)
            i = int(m.group(2))

            def ptom(
                ev: Any, cache: dict[Any, Any], c: str = pc, req: tuple[str, ...] = req, i: int = i
            ) -> F64:
                a, b = _p4(ev, c, 2, 0, req, cache), _p4(ev, c, 2, 1, req, cache)
                mass = pair_quantity("m", a, b)
                pt = _slots(ev, req[0], 2, cache)[0][:, i]
                with np.errstate(divide="ignore", invalid="ignore"):
                    return pt / mass

            return Feature(name, req, ptom)
    m = re.fullmatch(r"([a-z]+)_([a-z])([a-z])", name)
    if m and m.group(1) in PAIR_QUANTITIES:
        q, la, lb = m.groups()
        ca, cb = _pair_collection(la, colls, have), _pair_collection(lb, colls, have)
        if ca is not None and cb is not None:
            ra, rb = _p4_requires(ca, have), _p4_requires(cb, have)
            same = ca == cb

            def pair(ev: Any, cache: dict[Any, Any]) -> F64:
                if same:
                    a, b = _p4(ev, ca, 2, 0, ra, cache), _p4(ev, ca, 2, 1, ra, cache)
                else:
                    a, b = _p4(ev, ca, 1, 0, ra, cache), _p4(ev, cb, 1, 0, rb, cache)
                return pair_quantity(q, a, b)

            return Feature(name, tuple(dict.fromkeys(ra + rb)), pair)
    known = known_features(avail)
    hints = nearest(name, known, n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
    raise ConfigError(
        f"{where}: unknown feature '{name}'{hint} (see hepsift.features.build for the name "
        "patterns: branch, coll_field_i, coll_n, coll_sum_field, ht, m_gg, deta_jj, ptom_gg_0...)"
    )


def known_features(available: Iterable[str], *, slots: int = 4) -> list[str]:
    """Example valid feature names for these branches (used for nearest-name hints)."""
    from hepsift.features.jagged import collections
    from hepsift.features.kinematics import PAIR_QUANTITIES

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


# ---------------------------------------------------------------------------------------------
SampleKind = Literal["auto", "mc", "data"]


@dataclass(frozen=True)
class SampleSpec:
    """One sample of :func:`build_dataset` (the ``samples:`` list of a run config).

    Attributes
    ----------
    name: sample name (e.g. ``ggH``); also the key looked up in ``manifest``.
    files: a path, glob pattern or list of them (ROOT, CSV or Parquet).
    label: class of every event of the sample: a class name (``"signal"``) or an integer.
        For tables with a per-row label column (HIGGS, HEPMASS, photon-id) use
        ``label_branch="label"`` instead.
    tree: ROOT tree name (default: the schema's, or the file's only tree).
    schema: layout name (``atlas-gamgam``, ``nanoaod``, ``higgs``, ``hepmass``...); None: detect.
    kind: ``"mc"``, ``"data"`` (weight 1) or ``"auto"`` (data when no MC weight is present).
    kfactor: multiplies the weight (higher-order correction of the cross section).
    xsection_pb, sum_weights: override the XSection / SumWeights branches (or the manifest).
    manifest: path of the generator's ``manifest.json`` holding ``xsection_pb`` and
        ``sum_weights`` per sample name.
    weight_branch: generator weight branch (default ``mcWeight`` or ``genWeight`` if present).
    scale_factors: scale-factor branches multiplied in (default
        :data:`DEFAULT_SCALE_FACTORS`, those present in the file).
    label_branch: per-row integer label column instead of ``label``.
    param, param_branch: the physics parameter (e.g. a mass in GeV) of every event, or the
        column holding it (``mass`` for HEPMASS), for parametric models.
    entry_stop: read at most this many events of the sample.
    """

    name: str
    files: str | tuple[str, ...]
    label: str | int | None = None
    tree: str | None = None
    schema: str | None = None
    kind: SampleKind = "auto"
    kfactor: float = 1.0
    xsection_pb: float | None = None
    sum_weights: float | None = None
    manifest: str | None = None
    weight_branch: str | None = None
    scale_factors: tuple[str, ...] | None = None
    label_branch: str | None = None
    param: float | None = None
    param_branch: str | None = None
    entry_stop: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.files, list):
            object.__setattr__(self, "files", tuple(str(f) for f in self.files))
        if isinstance(self.scale_factors, list):
            object.__setattr__(self, "scale_factors", tuple(self.scale_factors))
        if self.kind not in ("auto", "mc", "data"):
            raise ConfigError(
                f"sample '{self.name}': kind '{self.kind}' is not one of auto, mc, data"
                f"{suggest(str(self.kind), ('auto', 'mc', 'data'))}"
            )
        if (self.label is None) == (self.label_branch is None):
            raise ConfigError(
                f"sample '{self.name}': give exactly one of 'label' (class of the sample) or "
                "'label_branch' (per-row label column)"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SampleSpec:
        """From a config mapping; unknown keys are a ConfigError with the nearest key."""
        allowed = [f.name for f in fields(cls)]
        for key in d:
            if key not in allowed:
                raise ConfigError(
                    f"sample '{d.get('name', '?')}' has unknown key '{key}'"
                    f"{suggest(str(key), allowed)} (allowed: {', '.join(allowed)})"
                )
        if "name" not in d or "files" not in d:
            raise ConfigError(f"a sample needs 'name' and 'files'; got keys {sorted(d)}")
        return cls(**dict(d))

    def file_list(self) -> list[str]:
        return [self.files] if isinstance(self.files, str) else list(self.files)


@dataclass
class BuildInfo:
    """What :func:`build_dataset` did: per-sample cutflows, kinds and normalisation, yields."""

    cutflows: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    norm: dict[str, dict[str, float | None]] = field(default_factory=dict)
    yields: list[dict[str, Any]] = field(default_factory=list)
    branches: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutflows": {k: v.to_dict() for k, v in self.cutflows.items()},
            "kinds": dict(self.kinds),
            "norm": {k: dict(v) for k, v in self.norm.items()},
            "yields": list(self.yields),
        }

    def yields_table(self) -> Any:
        """A rich Table of events, weighted yield and its error per sample and class."""
        from rich.table import Table

        t = Table(title="yields")
        for col in ("sample", "class", "kind", "events", "yield", "± stat"):
            t.add_column(col, justify="left" if col in ("sample", "class", "kind") else "right")
        for row in self.yields:
            t.add_row(
                row["sample"],
                row["class"],
                row["kind"],
                f"{row['events']:,}",
                f"{row['yield']:.4g}",
                f"{row['error']:.2g}",
            )
        return t


def _manifest_entry(path: str, sample: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"sample '{sample}': cannot read manifest '{path}': {exc}") from None
    pools = [data.get("samples", {}), data] if isinstance(data, dict) else []
    if isinstance(data, dict) and isinstance(data.get("samples"), list):
        pools = [{s.get("name"): s for s in data["samples"] if isinstance(s, dict)}]
    for pool in pools:
        if isinstance(pool, dict) and isinstance(pool.get(sample), dict):
            return dict(pool[sample])
    names = [k for p in pools if isinstance(p, dict) for k in p if isinstance(p.get(k), dict)]
    raise DataError(f"manifest '{path}' has no sample '{sample}'{suggest(sample, names)}")


def _first(entry: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for k in keys:
        if entry.get(k) is not None:
            return float(entry[k])
    return None


@dataclass(frozen=True)
class _Plan:
    """Resolved reading and weighting plan of one sample (picklable for Dask workers)."""

    spec: SampleSpec
    kind: str
    branches: tuple[str, ...]
    weight_branch: str | None
    scale_factors: tuple[str, ...]
    xsection_pb: float | None
    sum_weights: float | None
    lumi_pb: float
    event_branch: str | None


def _weights(chunk: Any, plan: _Plan) -> F64:
    n = len(chunk)
    if plan.kind == "data":
        return np.ones(n)
    w = _np(chunk[plan.weight_branch]) if plan.weight_branch else np.ones(n)
    for sf in plan.scale_factors:
        w = w * _np(chunk[sf])
    xs = _np(chunk["XSection"]) if plan.xsection_pb is None else plan.xsection_pb
    sw = _np(chunk["SumWeights"]) if plan.sum_weights is None else plan.sum_weights
    with np.errstate(divide="ignore", invalid="ignore"):
        w = w * xs * plan.lumi_pb / sw * plan.spec.kfactor
    if not np.all(np.isfinite(w)):
        raise DataError(
            f"sample '{plan.spec.name}': event weights are NaN/inf (SumWeights zero?); "
            "set sum_weights or xsection_pb in the sample spec"
        )
    return np.asarray(w, dtype=np.float64)


@dataclass
class _ChunkResult:
    X: NDArray[np.float32]
    weight: F64
    event_number: NDArray[np.int64] | None
    index: NDArray[np.int64]
    n_in: int
    label: NDArray[np.int64] | None
    param: F64 | None
    objects: Any
    cutflow: Any


def _process(
    chunk: Any,
    plan: _Plan,
    selection: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    schema: Any,
) -> _ChunkResult:
    from hepsift.io.root import convert_units

    chunk = convert_units(chunk, schema)
    n_in = len(chunk)
    w = _weights(chunk, plan)
    if selection is not None:
        chunk, flow, idx = selection.apply(chunk, w, sample=plan.spec.name)
        w = w[idx]
    else:
        flow, idx = None, np.arange(n_in, dtype=np.int64)
    X, _ = compute_features(
        chunk,
        features,
        fill_value=options["fill_value"],
        sentinels=options["sentinels"],
        missing_indicators=options["missing_indicators"],
    )
    evno = None if plan.event_branch is None else _np(chunk[plan.event_branch]).astype(np.int64)
    label = None
    if plan.spec.label_branch is not None:
        label = _np(chunk[plan.spec.label_branch]).astype(np.int64)
    param = None
    if plan.spec.param_branch is not None:
        param = _np(chunk[plan.spec.param_branch])
    objects = None
    if options.get("objects"):
        from hepsift.features.jagged import stack_objects

        slots = stack_objects(chunk, options["objects"], options["object_fields"])
        objects = (slots.values, slots.mask)
    return _ChunkResult(X, w, evno, idx, n_in, label, param, objects, flow)


def _plan_sample(
    spec: SampleSpec,
    selection: Any,
    features: Sequence[str],
    lumi_fb: float,
    options: Mapping[str, Any],
) -> tuple[_Plan, Any, list[Path], str]:
    from hepsift.io import _kind
    from hepsift.io.root import expand_paths, open_tree
    from hepsift.io.schema import detect_root_schema, get_schema

    files = expand_paths(spec.file_list())
    kind_of_file = _kind(files)
    schema = get_schema(spec.schema)
    if kind_of_file == "root":
        t = open_tree(files[0], spec.tree, schema)
        available = list(t.keys(recursive=False))
        if schema is None:
            schema = detect_root_schema(t.name, available)
    else:
        from hepsift.io.tables import detect_csv_schema, table_kind

        if table_kind(files[0]) == "parquet":
            import pyarrow.parquet as pq

            available = list(pq.ParquetFile(files[0]).schema_arrow.names)
        else:
            import pyarrow.csv as pcsv

            from hepsift.io.tables import _csv_options

            schema = schema or detect_csv_schema(files[0])
            opts, _ = _csv_options(files[0], schema)
            reader = pcsv.open_csv(files[0], read_options=opts)
            available = list(reader.schema.names)
            reader.close()
        t = None
    have = set(available)
    need: set[str] = set()
    if selection is not None:
        need |= selection.branches(available)
    for name in features:
        need |= set(
            resolve_feature(name, available, where=f"sample '{spec.name}' features").requires
        )
    if options.get("objects"):
        for coll in options["objects"]:
            need |= {f"{coll}_{f}" for f in options["object_fields"] if f"{coll}_{f}" in have}
    for b in (spec.label_branch, spec.param_branch):
        if b is not None:
            if b not in have:
                raise DataError(f"sample '{spec.name}': no column '{b}'{suggest(b, available)}")
            need.add(b)
    event_branch = next((b for b in EVENT_NUMBER_BRANCHES if b in have), None)
    if event_branch:
        need.add(event_branch)
    # kind and weights
    weight_branch = spec.weight_branch or next(
        (b for b in ("mcWeight", "genWeight") if b in have), None
    )
    if spec.weight_branch and spec.weight_branch not in have:
        raise DataError(
            f"sample '{spec.name}': no weight branch '{spec.weight_branch}'"
            f"{suggest(spec.weight_branch, available)}"
        )
    kind = spec.kind
    if kind == "auto":
        if weight_branch is None:
            kind = "data"
        elif t is not None:
            probe = np.asarray(t[weight_branch].array(library="np", entry_stop=1000))
            kind = "data" if probe.size and np.all(probe == 0) else "mc"
        else:
            kind = "mc"
    entry: dict[str, Any] = _manifest_entry(spec.manifest, spec.name) if spec.manifest else {}
    xs = (
        spec.xsection_pb
        if spec.xsection_pb is not None
        else _first(entry, ("xsection_pb", "XSection", "cross_section_pb", "sigma_pb"))
    )
    sw = (
        spec.sum_weights
        if spec.sum_weights is not None
        else _first(entry, ("sum_weights", "SumWeights", "sumw"))
    )
    sfs: tuple[str, ...] = ()
    if kind == "mc":
        if weight_branch is not None:
            need.add(weight_branch)
        sfs = tuple(s for s in (spec.scale_factors or DEFAULT_SCALE_FACTORS) if s in have)
        if spec.scale_factors:
            missing = [s for s in spec.scale_factors if s not in have]
            if missing:
                raise DataError(
                    f"sample '{spec.name}': no scale-factor branch '{missing[0]}'"
                    f"{suggest(missing[0], available)}"
                )
        need |= set(sfs)
        if xs is None:
            if "XSection" in have:
                need.add("XSection")
            else:
                xs = 1.0 / (lumi_fb * 1000.0)  # no normalisation available: leave weights raw
        if sw is None:
            if "SumWeights" in have:
                need.add("SumWeights")
            else:
                sw = 1.0
    plan = _Plan(
        spec=spec,
        kind=kind,
        branches=tuple(sorted(need)),
        weight_branch=weight_branch if kind == "mc" else None,
        scale_factors=sfs,
        xsection_pb=xs,
        sum_weights=sw,
        lumi_pb=lumi_fb * 1000.0,
        event_branch=event_branch,
    )
    return plan, schema, files, kind_of_file


def build_dataset(
    samples: Sequence[SampleSpec | Mapping[str, Any]],
    *,
    features: Sequence[str],
    selection: Any = None,
    lumi_fb: float = 10.0,
    class_names: Sequence[str] | None = None,
    fill_value: float = 0.0,
    sentinels: Sequence[float] = (-999.0,),
    missing_indicators: Sequence[str] = (),
    objects: Mapping[str, int] | None = None,
    object_fields: Sequence[str] = ("pt", "eta", "phi", "E"),
    step_size: int | str = "100 MB",
    scheduler: Any = None,
) -> tuple[Any, BuildInfo]:
    """Read, select and featurise every sample into one :class:`~hepsift.dataset.Dataset`.

    ``samples``: :class:`SampleSpec` or mappings of its fields. ``selection``: a preset name
    (``"hgamgam"``), YAML path, dict or :class:`~hepsift.select.Selection` (None: keep all).
    ``features``: feature names (module docstring). ``lumi_fb``: integrated luminosity in
    fb^-1 (default 10, the ATLAS Open Data 2020 release). ``objects={"photon": 2, "jet": 4}``
    also stores per-object slots for set models in ``Dataset.objects`` (an awkward record array
    with ``values`` (n, slots, len(object_fields)) and ``mask`` (n, slots)).
    ``scheduler``: None reads locally, streaming ``step_size`` chunks; a Dask address
    (``"tcp://host:port"``) or ``distributed.Client`` runs the same steps per partition via
    ``uproot.dask`` (ROOT only).

    Returns ``(dataset, info)``; ``info`` holds per-sample cutflows, kinds, normalisation and
    the yields table. ``Dataset.event_number`` is the file's eventNumber (else the row index in
    the sample); ``Dataset.sample`` indexes ``Dataset.sample_names``.
    """
    import awkward as ak

    from hepsift.dataset import Dataset
    from hepsift.select import Selection

    specs = [s if isinstance(s, SampleSpec) else SampleSpec.from_dict(s) for s in samples]
    if not specs:
        raise ConfigError("build_dataset needs at least one sample")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"sample names repeated: {dup}")
    if lumi_fb <= 0:
        raise ConfigError(f"lumi_fb must be > 0 (fb^-1); got {lumi_fb}")
    sel = None if selection is None else Selection.from_config(selection)
    classes = _class_names(specs, class_names)
    options: dict[str, Any] = {
        "fill_value": float(fill_value),
        "sentinels": tuple(float(s) for s in sentinels),
        "missing_indicators": tuple(missing_indicators),
        "objects": dict(objects) if objects else None,
        "object_fields": tuple(object_fields),
    }
    info = BuildInfo()
    parts: list[dict[str, Any]] = []
    for k, spec in enumerate(specs):
        plan, schema, files, ftype = _plan_sample(spec, sel, features, lumi_fb, options)
        info.kinds[spec.name] = plan.kind
        info.branches[spec.name] = list(plan.branches)
        info.norm[spec.name] = {
            "xsection_pb": plan.xsection_pb,
            "sum_weights": plan.sum_weights,
            "kfactor": spec.kfactor,
            "lumi_fb": lumi_fb,
        }
        if scheduler is not None:
            if ftype != "root":
                raise ConfigError(
                    f"sample '{spec.name}': scheduler= runs through uproot.dask and needs ROOT files"
                )
            results = _run_dask(files, plan, schema, sel, features, options, step_size, scheduler)
        else:
            results = _run_local(files, plan, schema, sel, features, options, step_size)
        parts.append(_merge(results, plan, spec, k, classes, sel, info))
    X = np.concatenate([p["X"] for p in parts])
    fnames = (*features, *(f"{m}_missing" for m in missing_indicators))
    ds_objects = None
    if objects:
        vals = np.concatenate([p["objects"][0] for p in parts])
        mask = np.concatenate([p["objects"][1] for p in parts])
        ds_objects = ak.zip({"values": vals, "mask": mask}, depth_limit=1)
    params = [p["param"] for p in parts]
    param = None
    if any(p is not None for p in params):
        param = np.concatenate(
            [
                p if p is not None else np.full(len(q["y"]), np.nan)
                for p, q in zip(params, parts, strict=True)
            ]
        )
    ds = Dataset(
        X=X,
        y=np.concatenate([p["y"] for p in parts]),
        weight=np.concatenate([p["w"] for p in parts]),
        feature_names=tuple(fnames),
        class_names=tuple(classes),
        param=param,
        event_number=np.concatenate([p["evno"] for p in parts]),
        sample=np.concatenate(
            [np.full(len(p["y"]), k, dtype=np.int64) for k, p in enumerate(parts)]
        ),
        sample_names=tuple(names),
        objects=ds_objects,
        meta={
            "lumi_fb": lumi_fb,
            "selection": None if sel is None else sel.name,
            "fill_value": float(fill_value),
            "sentinels": list(options["sentinels"]),
            "sample_kinds": dict(info.kinds),
        },
    )
    return ds, info


def _class_names(specs: Sequence[SampleSpec], class_names: Sequence[str] | None) -> list[str]:
    if class_names is not None:
        classes = [str(c) for c in class_names]
    else:
        labels = [s.label for s in specs if s.label is not None]
        if all(isinstance(lab, str) for lab in labels):
            if set(labels) <= {"background", "signal"}:
                classes = ["background", "signal"]
            else:
                classes = list(dict.fromkeys(str(lab) for lab in labels))
        else:
            top = max([int(lab) for lab in labels] + [1])  # type: ignore[arg-type]
            classes = ["background", "signal"] if top == 1 else [str(i) for i in range(top + 1)]
    for s in specs:
        if isinstance(s.label, str) and s.label not in classes:
            raise ConfigError(
                f"sample '{s.name}': label '{s.label}' is not a class{suggest(s.label, classes)} "
                f"(classes: {', '.join(classes)})"
            )
        if isinstance(s.label, int) and not 0 <= s.label < len(classes):
            raise ConfigError(f"sample '{s.name}': label {s.label} outside 0..{len(classes) - 1}")
    return classes


def _run_local(
    files: list[Path],
    plan: _Plan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
) -> list[_ChunkResult]:
    from hepsift.io import iterate

    out = []
    for chunk in _raw_chunks(files, plan, schema, step_size, iterate):
        out.append(_process(chunk, plan, sel, features, options, None))
    return out


def _raw_chunks(
    files: list[Path], plan: _Plan, schema: Any, step_size: int | str, iterate: Any
) -> Any:
    """Chunks already converted to GeV by the reader (so _process gets schema=None)."""
    yield from iterate(
        files,
        tree=plan.spec.tree,
        branches=list(plan.branches),
        step_size=step_size,
        schema=schema,
        entry_stop=plan.spec.entry_stop,
    )


def _run_dask(
    files: list[Path],
    plan: _Plan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
    scheduler: Any,
) -> list[_ChunkResult]:
    import dask
    from distributed import Client

    from hepsift.io.root import dask_root

    if plan.spec.entry_stop is not None:
        raise ConfigError(f"sample '{plan.spec.name}': entry_stop is not supported with scheduler=")
    arr, _ = dask_root(
        files, tree=plan.spec.tree, branches=list(plan.branches), step_size=step_size, schema=schema
    )
    tasks = [
        dask.delayed(_process)(part, plan, sel, list(features), dict(options), schema)
        for part in arr.to_delayed()
    ]
    if isinstance(scheduler, Client):
        return list(scheduler.gather(scheduler.compute(tasks)))
    with Client(scheduler) as client:
        return list(client.gather(client.compute(tasks)))


def _merge(
    results: list[_ChunkResult],
    plan: _Plan,
    spec: SampleSpec,
    k: int,
    classes: Sequence[str],
    sel: Any,
    info: BuildInfo,
) -> dict[str, Any]:
    offsets = np.cumsum([0] + [r.n_in for r in results[:-1]])
    if not results:
        raise DataError(f"sample '{spec.name}': the files hold no events")
    X = np.concatenate([r.X for r in results])
    w = np.concatenate([r.weight for r in results])
    if plan.event_branch is not None:
        evno = np.concatenate([r.event_number for r in results if r.event_number is not None])
    else:
        evno = np.concatenate([r.index + off for r, off in zip(results, offsets, strict=True)])
    if spec.label_branch is not None:
        y = np.concatenate([r.label for r in results if r.label is not None])
        if y.size and (y.min() < 0 or y.max() >= len(classes)):
            raise DataError(
                f"sample '{spec.name}': column '{spec.label_branch}' holds labels "
                f"{sorted(set(np.unique(y).tolist()))[:5]} outside 0..{len(classes) - 1}"
            )
    else:
        label = spec.label
        lab = classes.index(label) if isinstance(label, str) else int(label)  # type: ignore[arg-type]
        y = np.full(len(w), lab, dtype=np.int64)
    param = None
    if spec.param_branch is not None:
        param = np.concatenate([r.param for r in results if r.param is not None])
    elif spec.param is not None:
        param = np.full(len(w), float(spec.param))
    objs = None
    if results[0].objects is not None:
        objs = (
            np.concatenate([r.objects[0] for r in results]),
            np.concatenate([r.objects[1] for r in results]),
        )
    if sel is not None:
        flow = results[0].cutflow
        for r in results[1:]:
            flow = flow + r.cutflow
        info.cutflows[spec.name] = flow.with_sample(spec.name)
    for c in np.unique(y):
        wc = w[y == c]
        info.yields.append(
            {
                "sample": spec.name,
                "class": classes[int(c)],
                "kind": plan.kind,
                "events": int(wc.size),
                "yield": float(wc.sum()),
                "error": float(np.sqrt(np.sum(wc * wc))),
            }
        )
    if len(w) == 0:
        info.yields.append(
            {
                "sample": spec.name,
                "class": classes[0] if spec.label is None else str(spec.label),
                "kind": plan.kind,
                "events": 0,
                "yield": 0.0,
                "error": 0.0,
            }
        )
    return {"X": X, "w": w, "evno": evno, "y": y, "param": param, "objects": objs}
