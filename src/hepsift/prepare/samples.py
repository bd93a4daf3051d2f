"""Samples and their physics weights: what to read from each sample and how to weight it.

Event weights (per sample): ``mcWeight * scale factors * XSection [pb] * lumi [pb^-1] /
SumWeights * kfactor``; cross section and sum of weights come from the branches, or from the
sample spec / the generator's ``manifest.json``. Real data (``kind="data"``, or auto-detected:
no ``mcWeight``/``genWeight`` branch, or all of it zero as in ATLAS Open Data data files) gets
weight 1.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, suggest
from hepsift.features.columns import F64, as_float64
from hepsift.features.names import resolve_feature
from hepsift.features.objects import object_branches
from hepsift.io import file_kind
from hepsift.io.root import branch_names, expand_paths, open_tree
from hepsift.io.schema import detect_root_schema, get_schema
from hepsift.io.tables import table_columns

__all__ = [
    "DEFAULT_SCALE_FACTORS",
    "EVENT_NUMBER_BRANCHES",
    "BuildInfo",
    "SampleKind",
    "SamplePlan",
    "SampleSpec",
    "event_weights",
    "plan_sample",
    "row_labels",
    "sample_classes",
]

DEFAULT_SCALE_FACTORS = ("scaleFactor_PHOTON", "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP")
EVENT_NUMBER_BRANCHES = ("eventNumber", "event", "event_number")
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
    label_branch: per-row label column instead of ``label``: integers (class indices), or any
        values mapped to classes by ``labels``.
    labels: for ``label_branch``: value in the column -> class name or index, e.g.
        ``{"s": "signal", "b": "background"}`` for HiggsML's text labels.
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
    labels: Mapping[str, str | int] | tuple[tuple[str, str | int], ...] | None = None
    param: float | None = None
    param_branch: str | None = None
    entry_stop: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.files, os.PathLike):
            object.__setattr__(self, "files", os.fspath(self.files))
        if isinstance(self.files, list | tuple):
            object.__setattr__(
                self,
                "files",
                tuple(os.fspath(f) if isinstance(f, os.PathLike) else f for f in self.files),
            )
        if isinstance(self.scale_factors, list):
            object.__setattr__(self, "scale_factors", tuple(self.scale_factors))
        if isinstance(self.labels, Mapping):
            pairs = tuple((_label_key(k), v) for k, v in self.labels.items())
            object.__setattr__(self, "labels", pairs)
        self._check_reading()
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

    def _check_reading(self) -> None:
        """ConfigError (one line) for meaningless reading/weighting values."""
        where = f"sample '{self.name}'"
        files = [self.files] if isinstance(self.files, str) else self.files
        if (
            not isinstance(files, tuple | list)
            or not files
            or not all(isinstance(f, str) and f for f in files)
        ):
            raise ConfigError(
                f"{where}: files must be a path or a list of paths; got {self.files!r}"
            )
        lab = self.label
        if lab is not None and (isinstance(lab, bool) or not isinstance(lab, str | int)):
            raise ConfigError(f"{where}: label must be a class name or index; got {lab!r}")
        es = self.entry_stop
        if es is not None and (isinstance(es, bool) or not isinstance(es, int) or es < 1):
            raise ConfigError(f"{where}: entry_stop must be a whole number >= 1; got {es!r}")
        for key in ("kfactor", "xsection_pb", "sum_weights"):
            value = getattr(self, key)
            if value is None and key != "kfactor":
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{where}: {key} must be a finite number > 0; got {value!r}")
        if self.labels is not None:
            if self.label_branch is None:
                raise ConfigError(f"{where}: 'labels' maps the values of 'label_branch'; set it")
            pairs = self.labels
            if not isinstance(pairs, tuple) or not all(
                isinstance(q, tuple) and len(q) == 2 for q in pairs
            ):
                raise ConfigError(
                    f"{where}: labels must be a mapping of column values to classes, e.g. "
                    f"{{s: signal, b: background}}; got {self.labels!r}"[:300]
                )
            for cls in self.label_map().values():
                if isinstance(cls, bool) or not isinstance(cls, str | int):
                    raise ConfigError(
                        f"{where}: labels must map column values to class names or indices; "
                        f"got {cls!r}"
                    )

    def label_map(self) -> dict[str, str | int]:
        """``labels`` as a dict (column value as text -> class name or index)."""
        return dict(self.labels or ())  # type: ignore[arg-type]

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
class SamplePlan:
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
    #: for ``spec.labels``: column value as text -> class index
    label_codes: tuple[tuple[str, int], ...] = ()


def event_weights(chunk: Any, plan: SamplePlan) -> F64:
    """Physics weight of every event of ``chunk`` (module docstring); 1 for data."""
    n = len(chunk)
    if plan.kind == "data":
        return np.ones(n)
    w = as_float64(chunk[plan.weight_branch]) if plan.weight_branch else np.ones(n)
    for sf in plan.scale_factors:
        w = w * as_float64(chunk[sf])
    xs = as_float64(chunk["XSection"]) if plan.xsection_pb is None else plan.xsection_pb
    sw = as_float64(chunk["SumWeights"]) if plan.sum_weights is None else plan.sum_weights
    with np.errstate(divide="ignore", invalid="ignore"):
        w = w * xs * plan.lumi_pb / sw * plan.spec.kfactor
    if not np.all(np.isfinite(w)):
        raise DataError(
            f"sample '{plan.spec.name}': event weights are NaN/inf (SumWeights zero?); "
            "set sum_weights or xsection_pb in the sample spec"
        )
    return np.asarray(w, dtype=np.float64)


def plan_sample(
    spec: SampleSpec,
    selection: Any,
    features: Sequence[str],
    lumi_fb: float,
    options: Mapping[str, Any],
    classes: Sequence[str] = ("background", "signal"),
) -> tuple[SamplePlan, Any, list[Path], str]:
    """(plan, schema, files, file kind) of one sample: what to read and how to weight it.

    ``classes`` resolves the class names of ``spec.labels`` to indices.
    """
    files = expand_paths(spec.file_list())
    kind_of_file = file_kind(files)
    tree, available, schema = _open_sample(spec, files[0], kind_of_file)
    need = _content_branches(spec, available, selection, features, options)
    have = set(available)
    event_branch = next((b for b in EVENT_NUMBER_BRANCHES if b in have), None)
    if event_branch:
        need.add(event_branch)
    weight_branch = _weight_branch(spec, available)
    kind = _sample_kind(spec, weight_branch, tree)
    if kind == "mc" and weight_branch is None:
        warnings.warn(
            f"sample '{spec.name}' is kind 'mc' but its files have no weight branch "
            f"(mcWeight, genWeight): every event gets generator weight 1; set weight_branch "
            f"(columns: {', '.join(available[:8])}{', ...' if len(available) > 8 else ''})",
            UserWarning,
            stacklevel=3,
        )
    xs, sw = _normalisation(spec)
    sfs: tuple[str, ...] = ()
    if kind == "mc":
        if weight_branch is not None:
            need.add(weight_branch)
        sfs = _scale_factors(spec, available)
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
    plan = SamplePlan(
        spec=spec,
        kind=kind,
        branches=tuple(sorted(need)),
        weight_branch=weight_branch if kind == "mc" else None,
        scale_factors=sfs,
        xsection_pb=xs,
        sum_weights=sw,
        lumi_pb=lumi_fb * 1000.0,
        event_branch=event_branch,
        label_codes=_label_codes(spec, classes),
    )
    return plan, schema, files, kind_of_file


def _label_key(value: Any) -> str:
    """A label value as text: ``1``, ``1.0`` and ``"1"`` all become ``"1"``; ``"s"`` stays."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def _label_codes(spec: SampleSpec, classes: Sequence[str]) -> tuple[tuple[str, int], ...]:
    codes = []
    for key, cls in spec.label_map().items():
        if isinstance(cls, str):
            if cls not in classes:
                raise ConfigError(
                    f"sample '{spec.name}': labels maps '{key}' to '{cls}', not a class"
                    f"{suggest(cls, classes)} (classes: {', '.join(classes)})"
                )
            codes.append((key, list(classes).index(cls)))
        elif not 0 <= cls < len(classes):
            raise ConfigError(
                f"sample '{spec.name}': labels maps '{key}' to {cls}, outside 0..{len(classes) - 1}"
            )
        else:
            codes.append((key, int(cls)))
    return tuple(codes)


def row_labels(values: Any, plan: SamplePlan) -> NDArray[np.int64]:
    """The class index of every row from the label column ``values`` (integers, or any values
    mapped by ``spec.labels``); DataError naming unmapped values or text without a mapping."""
    import awkward as ak

    spec = plan.spec
    arr = ak.to_numpy(values) if values.ndim == 1 else None
    text = arr is None or arr.dtype.kind in "OUS"
    if not plan.label_codes:
        if text:
            seen = sorted({_label_key(v) for v in ak.to_list(values)[:10000]})[:4]
            raise DataError(
                f"sample '{spec.name}': column '{spec.label_branch}' holds text labels "
                f"({', '.join(seen)}); map them to classes, e.g. labels: "
                f"{{{seen[0] if seen else 's'}: signal, ...}}"
            )
        y = as_float64(values)
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise DataError(
                f"sample '{spec.name}': column '{spec.label_branch}' holds {int(bad.sum())} "
                f"labels that are not whole numbers (e.g. {y[bad][0]}); map them with labels:"
            )
        return y.astype(np.int64)
    codes = dict(plan.label_codes)
    raw = ak.to_list(values) if text else arr.tolist()  # type: ignore[union-attr]
    uniq = {v: _label_key(v) for v in set(raw)}
    missing = sorted({k for k in uniq.values() if k not in codes})
    if missing:
        raise DataError(
            f"sample '{spec.name}': column '{spec.label_branch}' holds values "
            f"{', '.join(missing[:4])} that labels does not map (it maps {', '.join(codes)})"
        )
    lookup = {v: codes[k] for v, k in uniq.items()}
    return np.fromiter((lookup[v] for v in raw), dtype=np.int64, count=len(raw))


def _open_sample(spec: SampleSpec, first: Path, kind_of_file: str) -> tuple[Any, list[str], Any]:
    """(ROOT tree or None, available branch names, schema) from the sample's first file."""
    schema = get_schema(spec.schema)
    if kind_of_file != "root":
        available, schema = table_columns(first, schema)
        return None, available, schema
    tree = open_tree(first, spec.tree, schema)
    available = branch_names(tree)
    if schema is None:
        schema = detect_root_schema(tree.name, available)
    return tree, available, schema


def _content_branches(
    spec: SampleSpec,
    available: list[str],
    selection: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
) -> set[str]:
    """Branches the selection, the features, the object slots and the label/param read."""
    have = set(available)
    need: set[str] = set()
    if selection is not None:
        need |= selection.branches(available)
    for name in features:
        need |= set(
            resolve_feature(name, available, where=f"sample '{spec.name}' features").requires
        )
    if options.get("objects"):
        wanted = object_branches(
            options["objects"], options["object_fields"], reference=options["object_reference"]
        )
        need |= wanted & have  # build_objects names a missing one
    for b in (spec.label_branch, spec.param_branch):
        if b is not None:
            if b not in have:
                raise DataError(f"sample '{spec.name}': no column '{b}'{suggest(b, available)}")
            need.add(b)
    return need


def _weight_branch(spec: SampleSpec, available: list[str]) -> str | None:
    """The event-weight branch: the spec's (which must exist), else mcWeight or genWeight."""
    have = set(available)
    if spec.weight_branch and spec.weight_branch not in have:
        raise DataError(
            f"sample '{spec.name}': no weight branch '{spec.weight_branch}'"
            f"{suggest(spec.weight_branch, available)}"
        )
    return spec.weight_branch or next((b for b in ("mcWeight", "genWeight") if b in have), None)


def _sample_kind(spec: SampleSpec, weight_branch: str | None, tree: Any) -> str:
    """``mc`` or ``data``; ``auto``: data without a weight branch or with all-zero weights
    in the first 1000 entries of a ROOT tree."""
    if spec.kind != "auto":
        return spec.kind
    if weight_branch is None:
        return "data"
    if tree is not None:
        # as awkward, then NumPy: uproot 5.7.0's RNTuple field.array(library="np") fails
        import awkward as ak

        probe = np.asarray(ak.to_numpy(tree[weight_branch].array(entry_stop=1000)))
        return "data" if probe.size and np.all(probe == 0) else "mc"
    return "mc"


def _normalisation(spec: SampleSpec) -> tuple[float | None, float | None]:
    """(cross section in pb, sum of weights) from the spec, else from its manifest entry."""
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
    return xs, sw


def _scale_factors(spec: SampleSpec, available: list[str]) -> tuple[str, ...]:
    """The scale-factor branches to multiply in: the spec's (each must exist) or the default
    ones present."""
    have = set(available)
    if spec.scale_factors:
        missing = [s for s in spec.scale_factors if s not in have]
        if missing:
            raise DataError(
                f"sample '{spec.name}': no scale-factor branch '{missing[0]}'"
                f"{suggest(missing[0], available)}"
            )
    return tuple(s for s in (spec.scale_factors or DEFAULT_SCALE_FACTORS) if s in have)


def sample_classes(specs: Sequence[SampleSpec], class_names: Sequence[str] | None) -> list[str]:
    """The class names of a build (given, or from the samples' labels), checked against them."""
    if class_names is not None:
        classes = [str(c) for c in class_names]
    else:
        labels = [s.label for s in specs if s.label is not None]
        labels += [c for s in specs for c in s.label_map().values() if isinstance(c, str)]
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
