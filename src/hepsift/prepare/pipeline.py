"""The build pipeline: read, select and featurise every sample into one Dataset.

Per sample: :func:`hepsift.prepare.samples.plan_sample` decides the branches and the weights,
then each chunk of the files is read (:mod:`hepsift.io`, energies in GeV), weighted, selected
(:class:`hepsift.select.Selection`) and turned into feature columns
(:func:`hepsift.features.compute_features`). Locally the chunks stream one after the other
(memory bounded by ``step_size``); with a Dask ``scheduler`` the same steps run per
``uproot.dask`` partition on the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError
from hepsift.features.columns import F64, as_float64
from hepsift.features.names import compute_features
from hepsift.features.objects import ObjectInputs, build_objects
from hepsift.io import iterate
from hepsift.io.root import convert_units, dask_root
from hepsift.prepare.samples import (
    BuildInfo,
    SamplePlan,
    SampleSpec,
    event_weights,
    plan_sample,
    row_labels,
    sample_classes,
)
from hepsift.select import Selection

__all__ = ["build_dataset"]


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
    plan: SamplePlan,
    selection: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    schema: Any,
) -> _ChunkResult:
    chunk = convert_units(chunk, schema)
    n_in = len(chunk)
    w = event_weights(chunk, plan)
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
    evno = (
        None if plan.event_branch is None else as_float64(chunk[plan.event_branch]).astype(np.int64)
    )
    label = None
    if plan.spec.label_branch is not None:
        label = row_labels(chunk[plan.spec.label_branch], plan)
    param = None
    if plan.spec.param_branch is not None:
        param = as_float64(chunk[plan.spec.param_branch])
    objects = None
    if options.get("objects"):
        objects = build_objects(
            chunk,
            options["objects"],
            options["object_fields"],
            reference=options["object_reference"],
        )
    return _ChunkResult(X, w, evno, idx, n_in, label, param, objects, flow)


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
    object_fields: Mapping[str, Sequence[str]] | None = None,
    object_reference: str | None = "photon",
    step_size: int | str = "100 MB",
    scheduler: Any = None,
) -> tuple[Any, BuildInfo]:
    """Read, select and featurise every sample into one :class:`~hepsift.dataset.Dataset`.

    ``samples``: :class:`SampleSpec` or mappings of its fields. ``selection``: a preset name
    (``"hgamgam"``), YAML path, dict or :class:`~hepsift.select.Selection` (None: keep all).
    ``features``: feature names (module docstring). ``lumi_fb``: integrated luminosity in
    fb^-1 (default 10, the ATLAS Open Data 2020 release). ``objects={"photon": 2, "jet": 4}``
    also stores the object inputs of set models in ``Dataset.objects``
    (:class:`~hepsift.features.objects.ObjectInputs`: ``values`` float32 (n, slots, fields),
    ``mask`` bool (n, slots)); ``object_fields`` chooses each collection's fields and
    ``object_reference`` the system eta/phi are relative to
    (:func:`~hepsift.features.objects.build_objects`).
    ``scheduler``: None reads locally, streaming ``step_size`` chunks; a Dask address
    (``"tcp://host:port"``) or ``distributed.Client`` runs the same steps per partition on the
    cluster (ROOT via ``uproot.dask``, CSV/Parquet one task per file).

    Returns ``(dataset, info)``; ``info`` holds per-sample cutflows, kinds, normalisation and
    the yields table. ``Dataset.event_number`` is the file's eventNumber (else the row index in
    the sample); ``Dataset.sample`` indexes ``Dataset.sample_names``.
    """
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
    classes = sample_classes(specs, class_names)
    options: dict[str, Any] = {
        "fill_value": float(fill_value),
        "sentinels": tuple(float(s) for s in sentinels),
        "missing_indicators": tuple(missing_indicators),
        "objects": dict(objects) if objects else None,
        "object_fields": None if object_fields is None else dict(object_fields),
        "object_reference": object_reference,
    }
    info = BuildInfo()
    parts: list[dict[str, Any]] = []
    for k, spec in enumerate(specs):
        plan, schema, files, ftype = plan_sample(spec, sel, features, lumi_fb, options, classes)
        info.kinds[spec.name] = plan.kind
        info.branches[spec.name] = list(plan.branches)
        info.norm[spec.name] = {
            "xsection_pb": plan.xsection_pb,
            "sum_weights": plan.sum_weights,
            "kfactor": spec.kfactor,
            "lumi_fb": lumi_fb,
        }
        if scheduler is not None:
            runner = _run_dask if ftype == "root" else _run_dask_tables
            results = runner(files, plan, schema, sel, features, options, step_size, scheduler)
        else:
            results = _run_local(files, plan, schema, sel, features, options, step_size)
        parts.append(_merge(results, plan, spec, k, classes, sel, info))
    X = np.concatenate([p["X"] for p in parts])
    fnames = (*features, *(f"{m}_missing" for m in missing_indicators))
    ds_objects = None
    if objects:
        ds_objects = ObjectInputs.concatenate([p["objects"] for p in parts])
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


def _run_local(
    files: list[Path],
    plan: SamplePlan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
) -> list[_ChunkResult]:
    out = []
    for chunk in _raw_chunks(files, plan, schema, step_size, iterate):
        out.append(_process(chunk, plan, sel, features, options, None))
    return out


def _raw_chunks(
    files: list[Path], plan: SamplePlan, schema: Any, step_size: int | str, iterate: Any
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
    plan: SamplePlan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
    scheduler: Any,
) -> list[_ChunkResult]:
    import dask

    if plan.spec.entry_stop is not None:
        raise ConfigError(f"sample '{plan.spec.name}': entry_stop is not supported with scheduler=")
    arr, _ = dask_root(
        files, tree=plan.spec.tree, branches=list(plan.branches), step_size=step_size, schema=schema
    )
    tasks = [
        dask.delayed(_process)(part, plan, sel, list(features), dict(options), schema)
        for part in arr.to_delayed()
    ]
    return _on_client(scheduler, lambda client: list(client.gather(client.compute(tasks))))


def _on_client(scheduler: Any, work: Callable[[Any], list[_ChunkResult]]) -> list[_ChunkResult]:
    """``work(client)`` on the given ``distributed.Client``, or on one opened (and closed) for
    the scheduler address."""
    from distributed import Client

    if isinstance(scheduler, Client):
        return work(scheduler)
    with Client(scheduler) as client:
        return work(client)


def _table_file(
    file: Path,
    plan: SamplePlan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
) -> list[_ChunkResult]:
    """One CSV/Parquet file read, selected and featurised (a Dask task on a worker)."""
    return _run_local([file], plan, schema, sel, features, options, step_size)


def _run_dask_tables(
    files: list[Path],
    plan: SamplePlan,
    schema: Any,
    sel: Any,
    features: Sequence[str],
    options: Mapping[str, Any],
    step_size: int | str,
    scheduler: Any,
) -> list[_ChunkResult]:
    """CSV/Parquet on a Dask cluster: one task per file, each reading its file in ``step_size``
    chunks on the worker; the chunk results come back in file order, so the merge (cutflows,
    yields, row-index event numbers) is exactly the local one."""
    if plan.spec.entry_stop is not None:
        raise ConfigError(f"sample '{plan.spec.name}': entry_stop is not supported with scheduler=")

    def gather(client: Any) -> list[_ChunkResult]:
        futures = [
            client.submit(
                _table_file, f, plan, schema, sel, list(features), dict(options), step_size
            )
            for f in files
        ]
        return [r for part in client.gather(futures) for r in part]

    return _on_client(scheduler, gather)


def _merge(
    results: list[_ChunkResult],
    plan: SamplePlan,
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
        objs = ObjectInputs.concatenate([r.objects for r in results])
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
