"""The data of a run config: generated, read or inline events, labelled by the task's classes.

:func:`prepare_data` is the first step of ``hepsift run`` (and of ``hepsift pnn study CONFIG``):
it generates the samples of a scenario into a cache folder (:func:`cache_folder`) or reuses
them, or takes the config's sample files, or its inline rows; reads, selects and featurises
them with :func:`hepsift.prepare.build_dataset`; maps the samples to the task's classes and
checks that every class has events (:func:`finalise`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.config import RunConfig
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError, HepsiftError, suggest
from hepsift.generate import generate, samples_for
from hepsift.prepare.pipeline import build_dataset
from hepsift.prepare.samples import BuildInfo
from hepsift.select import PRESETS

__all__ = ["PreparedData", "cache_folder", "finalise", "prepare_data"]

Log = Callable[[str], None]


def _null_log(message: str) -> None:
    pass


@dataclass
class PreparedData:
    """The selected events as a Dataset, and what the report says about where they came from."""

    dataset: Dataset
    samples: list[dict[str, Any]] = field(default_factory=list)
    cutflows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    data_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = ""


def _inline_dataset(cfg: RunConfig) -> PreparedData:
    inline = cfg.data.inline
    assert inline is not None
    X = np.asarray(inline.X, dtype=np.float32)
    w = np.ones(len(X)) if inline.weight is None else np.asarray(inline.weight)
    ds = Dataset(
        X=X,
        y=np.asarray(inline.y),
        weight=w,
        feature_names=tuple(inline.feature_names),
        class_names=tuple(inline.class_names),
    )
    return PreparedData(dataset=ds, source="inline rows of the config")


def cache_folder(cfg: RunConfig, events: int | None = None) -> Path:
    """``<cache>/<scenario>-<seed>-<events>/``: generated samples are reused from here."""
    assert cfg.data.scenario is not None
    n = cfg.data.events if events is None else events
    return Path(cfg.data.cache) / f"{cfg.data.scenario}-{cfg.seed}-{n}"


def _class_of(sample: str, cfg: RunConfig) -> str | None:
    """The class a sample belongs to by ``task.classes`` (exact name, else prefix), or None."""
    assert cfg.task.classes is not None
    for cname, members in cfg.task.classes.items():
        if sample in members:
            return cname
    for cname, members in cfg.task.classes.items():
        if any(sample.startswith(m) for m in members):
            return cname
    return None


def _manifest_samples(out: Path) -> list[dict[str, Any]]:
    """Sample specs (``SampleSpec`` fields) of a generated folder, from its ``manifest.json``."""
    manifest = out / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the generator manifest '{manifest}': {exc}") from None
    raw = data.get("samples", data) if isinstance(data, dict) else data
    entries: list[dict[str, Any]] = []
    if isinstance(raw, dict):
        entries = [{"name": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    elif isinstance(raw, list):
        entries = [e for e in raw if isinstance(e, dict)]
    by_file: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for e in entries:
        files = e.get("files") or e.get("paths") or e.get("path") or e.get("file")
        if files is None:
            continue
        files_list = [files] if isinstance(files, str) else list(files)
        paths = tuple(str(p if Path(p).is_absolute() else out / p) for p in files_list)
        by_file.setdefault(paths, []).append(e)
    scenario = str(data.get("scenario", out.name)) if isinstance(data, dict) else out.name
    # one table of several samples (photon-id, resonance-ttbar): a label column and a physics
    # weight per row (pb), also when a folder holds one of them (data.events_per_sample)
    table: dict[str, Any] = {
        "kind": "mc",
        "weight_branch": "weight",
        "xsection_pb": 1.0,
        "sum_weights": 1.0,
    }
    is_table = scenario in ("photon-id", "resonance-ttbar")
    specs = []
    for paths, group in by_file.items():
        if len(group) == 1:
            e = group[0]
            spec: dict[str, Any] = {
                "name": str(e["name"]),
                "files": list(paths),
                "manifest": str(manifest),
            }
            if "is_signal" in e:
                spec["label"] = "signal" if e["is_signal"] else "background"
            if isinstance(e.get("kfactor"), int | float):
                spec["kfactor"] = float(e["kfactor"])  # the generator's k-factor table
            if is_table:
                spec.update(table)
        else:
            spec = {"name": scenario, "files": list(paths), "label_branch": "label", **table}
        if is_table and scenario == "resonance-ttbar":
            spec["param_branch"] = "mass"
        specs.append(spec)
    if not specs:
        raise DataError(f"the generator manifest '{manifest}' lists no sample files")
    return specs


def _config_samples(cfg: RunConfig) -> list[dict[str, Any]]:
    assert cfg.data.samples is not None
    out = []
    for s in cfg.data.samples:
        spec: dict[str, Any] = {
            "name": s.name,
            "files": list(s.paths),
            "label": s.class_,
            "tree": s.tree,
            "schema": s.schema_,
            "kind": s.kind,
            "kfactor": s.kfactor,
            "xsection_pb": s.xsec_pb,
            "sum_weights": s.sum_weights,
            "label_branch": s.label_branch,
            "labels": s.labels,
            "weight_branch": s.weight_branch,
            "param": s.param,
            "param_branch": s.param_branch,
            "entry_stop": s.entry_stop,
        }
        out.append({k: v for k, v in spec.items() if v is not None})
    return out


def _selection_spec(cfg: RunConfig) -> Any:
    preset, cuts = cfg.selection.preset, list(cfg.selection.cuts)
    if not cuts:
        return preset
    base: list[Any] = []
    if preset is not None:
        base = list(PRESETS[preset]["cuts"])
    return {"name": preset or "selection", "cuts": base + cuts}


def _generated_samples(cfg: RunConfig) -> list[str] | None:
    """The scenario samples the task needs (None: all), so that unused ones are not generated."""
    if not cfg.task.classes or cfg.data.scenario is None:
        return None
    try:
        names = [s.name for s in samples_for(cfg.data.scenario)]
    except (HepsiftError, TypeError):
        return None
    members = [m for ms in cfg.task.classes.values() for m in ms]
    wanted = [n for n in names if any(n == m or n.startswith(m) for m in members)]
    return wanted or None


def _pipeline_dataset(
    cfg: RunConfig,
    *,
    log: Log,
    scheduler: str | None,
    progress: bool = False,
    images: bool = False,
) -> PreparedData:
    if cfg.data.scenario is not None:
        specs, data_files, source = _generated_specs(
            cfg, cfg.data.scenario, log=log, scheduler=scheduler, progress=progress
        )
    else:
        specs = _config_samples(cfg)
        data_files = [Path(p) for spec in specs for p in spec["files"] if Path(p).is_file()]
        source = "sample files"
    specs, class_names = _label_specs(specs, cfg)
    log(f"reading {len(specs)} samples, selection {cfg.selection.preset or 'none'}")
    features = list(cfg.features)
    rw = cfg.weights.reweight
    if rw is not None and rw.variable not in features:
        features.append(rw.variable)  # read for the reweighting; dropped by finalise
    dataset, info = build_dataset(
        specs,
        features=features,
        selection=_selection_spec(cfg),
        lumi_fb=cfg.weights.lumi_fb,
        class_names=class_names,
        scheduler=scheduler,
        fill_value=float("nan") if cfg.missing == "keep" else 0.0,
        **_object_options(cfg),
    )
    if images:
        from hepsift.prepare.images import attach_images

        log("reading the event images beside the tables")
        dataset = attach_images(dataset, {s["name"]: s["files"] for s in specs})
    cutflows = {name: cf.as_rows() for name, cf in info.cutflows.items()}
    return PreparedData(
        dataset=dataset,
        samples=_sample_rows(specs, info),
        cutflows=cutflows,
        data_files=data_files,
        source=source,
    )


def _object_options(cfg: RunConfig) -> dict[str, Any]:
    """build_dataset's object keywords from the config's ``objects:`` section (if any)."""
    o = cfg.objects
    if o is None:
        return {}
    return {
        "objects": dict(o.collections),
        "object_fields": dict(o.fields) or None,
        "object_reference": o.reference,
    }


def _generated_specs(
    cfg: RunConfig, scenario: str, *, log: Log, scheduler: str | None, progress: bool
) -> tuple[list[dict[str, Any]], list[Path], str]:
    """Generate (or reuse) the scenario's samples, one cache folder per event count:
    (sample specs, manifest files, a description of the source)."""
    masses = None
    if scenario == "resonance-ttbar" and cfg.study is not None:
        masses = list(cfg.study.masses_gev) or None
    restricted = _generated_samples(cfg)
    wanted = restricted
    if wanted is None:
        wanted = [s.name for s in samples_for(scenario, masses)]
    groups: dict[int, list[str]] = {}
    for name in wanted:
        groups.setdefault(cfg.data.events_per_sample.get(name, cfg.data.events), []).append(name)
    specs: list[dict[str, Any]] = []
    data_files: list[Path] = []
    folders = []
    for events, names in sorted(groups.items()):
        out = cache_folder(cfg, events)
        done = (out / "manifest.json").is_file()
        log(
            f"{'reusing' if done else 'generating'} {scenario} samples "
            f"{', '.join(names)} ({events} events each) in {out}"
        )
        extra: dict[str, Any] = {}
        if len(groups) > 1 or restricted is not None:
            extra["samples"] = names
        if masses is not None:
            extra["masses"] = masses
        generate(
            scenario,
            events=events,
            out=out,
            seed=cfg.seed,
            workers=cfg.data.workers,
            scheduler=scheduler,
            progress=progress,
            **extra,
        )
        data_files.append(out / "manifest.json")
        specs.extend(_manifest_samples(out))
        folders.append(str(out))
    source = f"generated scenario '{scenario}' (cache {', '.join(folders)})"
    return specs, data_files, source


def _label_specs(
    specs: list[dict[str, Any]], cfg: RunConfig
) -> tuple[list[dict[str, Any]], list[str] | None]:
    """With ``task.classes``: only the samples of a class, each labelled with it, and the
    class names; otherwise the specs unchanged and None."""
    if not cfg.task.classes:
        return specs, None
    kept = []
    for spec in specs:
        cname = _class_of(spec["name"], cfg)
        if cname is not None:
            kept.append({**spec, "label": cname})
    if not kept:
        names = [s["name"] for s in specs]
        raise ConfigError(f"'task.classes' matches none of the samples ({', '.join(names)})")
    return kept, list(cfg.task.classes)


def _sample_rows(specs: list[dict[str, Any]], info: BuildInfo) -> list[dict[str, Any]]:
    """One row per sample for the report: class, normalisation and selected yield."""
    rows: list[dict[str, Any]] = []
    yields_by_sample = {r["sample"]: r for r in info.yields}
    for spec in specs:
        row: dict[str, Any] = {"sample": spec["name"], "class": spec.get("label", "")}
        n = info.norm.get(spec["name"], {})
        for key in ("xsection_pb", "sum_weights", "kfactor"):
            if n.get(key) is not None:
                row[key] = n[key]
        y = yields_by_sample.get(spec["name"])
        if y is not None:
            row["selected events"] = y.get("events")
            row["yield"] = y.get("yield")
        rows.append(row)
    return rows


def _apply_classes(ds: Dataset, cfg: RunConfig) -> Dataset:
    """Relabel events by the ``task.classes`` mapping (class -> sample names or prefixes)."""
    classes = cfg.task.classes
    if not classes:
        return ds
    if ds.sample is None or not ds.sample_names:
        if tuple(classes) == ds.class_names:
            return ds
        raise ConfigError(
            f"'task.classes' maps samples to classes, but the data carry no sample names "
            f"(data classes: {list(ds.class_names)})"
        )
    names = list(ds.sample_names)
    label_of_sample = np.full(len(names), -1, dtype=np.int64)
    for k, (cname, members) in enumerate(classes.items()):
        for j, member in enumerate(members):
            hits = [i for i, s in enumerate(names) if s == member or s.startswith(member)]
            if not hits:
                raise ConfigError(
                    f"'task.classes.{cname}[{j}]' is '{member}', which matches no sample"
                    f"{suggest(member, names)} (samples: {', '.join(names)})"
                )
            for i in hits:
                label_of_sample[i] = k
    y = label_of_sample[ds.sample]
    keep = y >= 0
    sub = ds.subset(keep)
    return replace(sub, y=y[keep], class_names=tuple(classes))


def prepare_data(
    cfg: RunConfig,
    *,
    log: Log = _null_log,
    scheduler: str | None = None,
    progress: bool = False,
    images: bool = False,
) -> PreparedData:
    """The selected, labelled events of a config (generating or reusing samples as needed).

    ``images=True`` also reads each sample's ``<sample>.images.npz`` into ``Dataset.images``
    (:func:`hepsift.prepare.images.attach_images`; the run asks for it when a model takes
    images)."""
    if cfg.data.inline is not None:
        if images:
            raise ConfigError("a model takes images, but inline data rows carry none")
        prepared = _inline_dataset(cfg)
    else:
        prepared = _pipeline_dataset(
            cfg, log=log, scheduler=scheduler, progress=progress, images=images
        )
    return finalise(prepared, cfg)


def _reweighted(ds: Dataset, cfg: RunConfig) -> Dataset:
    """``ds`` with the training factors of ``weights.reweight`` (unchanged without it)."""
    from hepsift.prepare.reweight import check_target, reweight_factors

    rw = cfg.weights.reweight
    if rw is None:
        return ds
    if rw.variable not in ds.feature_names:
        raise ConfigError(
            f"weights.reweight.variable: unknown column {rw.variable!r}"
            f"{suggest(rw.variable, ds.feature_names)}"
        )
    target = check_target(rw.to, ds.class_names)
    values = ds.X[:, ds.feature_names.index(rw.variable)]
    factor = reweight_factors(values, ds.y, ds.weight, target=target, bins=rw.bins)
    return replace(ds, train_factor=factor)


def finalise(prepared: PreparedData, cfg: RunConfig) -> PreparedData:
    """Map samples to the task's classes, keep the configured features, check the classes."""
    ds = _apply_classes(prepared.dataset, cfg)
    ds = _reweighted(ds, cfg)
    if cfg.features and tuple(cfg.features) != ds.feature_names:
        ds = ds.select_features(cfg.features)
    if cfg.task.type == "binary" and ds.n_classes != 2:
        raise ConfigError(
            f"'task.type' is binary but the data have {ds.n_classes} classes "
            f"{list(ds.class_names)}; set task.classes to map them to two"
        )
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    empty = [c for c, n in zip(ds.class_names, counts, strict=True) if n == 0]
    if empty:
        raise DataError(f"class(es) {empty} have no events after the selection")
    prepared.dataset = ds
    return prepared
