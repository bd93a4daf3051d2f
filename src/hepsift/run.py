"""``hepsift run``: config -> data -> features -> models -> evaluation -> run folder and report.

:func:`run` is the whole job. It checks the config first (nothing is written on a mistake),
prepares the data (generates the samples of a scenario into a cache folder, or reuses them;
reads sample files; or takes inline rows), applies the selection, builds the features, splits,
scales (fit on train only), trains every model, evaluates them on the test split and writes the
run folder atomically (``runs/.<name>.partial`` renamed at the end, with a ``DONE`` marker)::

    runs/<config-name>-<UTC stamp>/
        config.yaml  provenance.json  metrics.json  report.html  DONE
        plots/*.png *.pdf   models/<name>/ (model.save + scaler.json)   models/<name>.onnx
"""

from __future__ import annotations

import importlib
import inspect
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.config import RunConfig, load_config
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError, HepsiftError, ModelError

__all__ = ["PreparedData", "RunResult", "TrainedModel", "prepare_data", "run"]

#: families whose ``fit`` takes ``eval_set=(X_val, y_val, w_val)`` (early stopping, curves)
EVAL_SET_FAMILIES = frozenset({"bdt", "mlp", "pnn"})


@dataclass
class PreparedData:
    """The selected events as a Dataset, and what the report says about where they came from."""

    dataset: Dataset
    samples: list[dict[str, Any]] = field(default_factory=list)
    cutflows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    data_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = ""


@dataclass
class TrainedModel:
    name: str
    family: str
    params: dict[str, Any]
    model: Any
    seconds: float
    history: dict[str, list[float]]
    gain: dict[str, float] | None = None
    onnx: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """What :func:`run` returns: the finished run folder and the numbers in it."""

    path: Path
    config: RunConfig
    metrics: dict[str, Any]
    evaluations: list[Any]
    timings: dict[str, float]

    @property
    def report(self) -> Path:
        return self.path / "report.html"


Log = Callable[[str], None]


def _null_log(message: str) -> None:
    pass


# -- data ------------------------------------------------------------------------------------


def _optional(module: str, attr: str, what: str) -> Any:
    """An attribute of a pipeline module, or ConfigError saying this build lacks it."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise ConfigError(f"{what} needs {module}, which is not part of this build") from None
        raise
    fn = getattr(mod, attr, None)
    if fn is None:
        raise ConfigError(f"{what} needs {module}.{attr}, which is not part of this build")
    return fn


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


def _call_with_supported(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with only the keyword arguments its signature accepts."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return fn(*args, **kwargs)
    return fn(*args, **{k: v for k, v in kwargs.items() if k in params})


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
    import json

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
        else:
            # several samples in one table (photon-id, resonance-ttbar): one row per candidate or
            # event with its own label column and physics weight per row (pb)
            spec = {
                "name": scenario,
                "files": list(paths),
                "label_branch": "label",
                "kind": "mc",
                "weight_branch": "weight",
                "xsection_pb": 1.0,
                "sum_weights": 1.0,
            }
            if scenario == "resonance-ttbar":
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
        from hepsift.select import PRESETS

        base = list(PRESETS[preset]["cuts"])
    return {"name": preset or "selection", "cuts": base + cuts}


def _generated_samples(cfg: RunConfig) -> list[str] | None:
    """The scenario samples the task needs (None: all), so that unused ones are not generated."""
    if not cfg.task.classes or cfg.data.scenario is None:
        return None
    try:
        from hepsift.generate import samples_for
    except ImportError:
        return None
    try:
        names = [s.name for s in samples_for(cfg.data.scenario)]
    except (HepsiftError, TypeError):
        return None
    members = [m for ms in cfg.task.classes.values() for m in ms]
    wanted = [n for n in names if any(n == m or n.startswith(m) for m in members)]
    return wanted or None


def _pipeline_dataset(
    cfg: RunConfig, *, log: Log, scheduler: str | None, progress: bool = False
) -> PreparedData:
    build_dataset = _optional("hepsift.features", "build_dataset", "building features")
    data_files: list[Path] = []
    if cfg.data.scenario is not None:
        generate = _optional("hepsift.generate", "generate", f"scenario '{cfg.data.scenario}'")
        masses = None
        if cfg.data.scenario == "resonance-ttbar" and cfg.study is not None:
            masses = list(cfg.study.masses_gev) or None
        restricted = _generated_samples(cfg)
        wanted = restricted
        if wanted is None:
            from hepsift.generate import samples_for

            wanted = [s.name for s in samples_for(cfg.data.scenario, masses)]
        groups: dict[int, list[str]] = {}
        for name in wanted:
            groups.setdefault(cfg.data.events_per_sample.get(name, cfg.data.events), []).append(
                name
            )
        specs = []
        folders = []
        for events, names in sorted(groups.items()):
            out = cache_folder(cfg, events)
            done = (out / "manifest.json").is_file()
            log(
                f"{'reusing' if done else 'generating'} {cfg.data.scenario} samples "
                f"{', '.join(names)} ({events} events each) in {out}"
            )
            extra: dict[str, Any] = {}
            if len(groups) > 1 or restricted is not None:
                extra["samples"] = names
            if masses is not None:
                extra["masses"] = masses
            _call_with_supported(
                generate,
                cfg.data.scenario,
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
        source = f"generated scenario '{cfg.data.scenario}' (cache {', '.join(folders)})"
    else:
        specs = _config_samples(cfg)
        for spec in specs:
            data_files.extend(Path(p) for p in spec["files"] if Path(p).is_file())
        source = "sample files"
    class_names = None
    if cfg.task.classes:
        kept = []
        for spec in specs:
            cname = _class_of(spec["name"], cfg)
            if cname is not None:
                kept.append({**spec, "label": cname})
        if not kept:
            names = [s["name"] for s in specs]
            raise ConfigError(f"'task.classes' matches none of the samples ({', '.join(names)})")
        specs = kept
        class_names = list(cfg.task.classes)
    log(f"reading {len(specs)} samples, selection {cfg.selection.preset or 'none'}")
    dataset, info = build_dataset(
        specs,
        features=list(cfg.features),
        selection=_selection_spec(cfg),
        lumi_fb=cfg.weights.lumi_fb,
        class_names=class_names,
        scheduler=scheduler,
    )
    samples_rows: list[dict[str, Any]] = []
    norm = getattr(info, "norm", {}) or {}
    yields_by_sample = {r.get("sample"): r for r in getattr(info, "yields", []) or []}
    for spec in specs:
        row: dict[str, Any] = {"sample": spec["name"], "class": spec.get("label", "")}
        n = norm.get(spec["name"], {})
        for key in ("xsection_pb", "sum_weights", "kfactor"):
            if n.get(key) is not None:
                row[key] = n[key]
        y = yields_by_sample.get(spec["name"])
        if y is not None:
            row["selected events"] = y.get("events")
            row["yield"] = y.get("yield")
        samples_rows.append(row)
    cutflows = {name: cf.as_rows() for name, cf in (getattr(info, "cutflows", {}) or {}).items()}
    return PreparedData(
        dataset=dataset,
        samples=samples_rows,
        cutflows=cutflows,
        data_files=data_files,
        source=source,
    )


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
                from hepsift.errors import suggest

                raise ConfigError(
                    f"'task.classes.{cname}[{j}]' is '{member}', which matches no sample"
                    f"{suggest(member, names)} (samples: {', '.join(names)})"
                )
            for i in hits:
                label_of_sample[i] = k
    y = label_of_sample[ds.sample]
    keep = y >= 0
    from dataclasses import replace

    sub = ds.subset(keep)
    return replace(sub, y=y[keep], class_names=tuple(classes))


def prepare_data(
    cfg: RunConfig,
    *,
    log: Log = _null_log,
    scheduler: str | None = None,
    progress: bool = False,
) -> PreparedData:
    """The selected, labelled events of a config (generating or reusing samples as needed)."""
    if cfg.data.inline is not None:
        prepared = _inline_dataset(cfg)
    else:
        prepared = _pipeline_dataset(cfg, log=log, scheduler=scheduler, progress=progress)
    return _finalise(prepared, cfg)


def _finalise(prepared: PreparedData, cfg: RunConfig) -> PreparedData:
    """Map samples to the task's classes, keep the configured features, check the classes."""
    ds = _apply_classes(prepared.dataset, cfg)
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


# -- training --------------------------------------------------------------------------------


def _history_of(model: Any) -> dict[str, list[float]]:
    from hepsift.plots.curves import history_series

    hist = getattr(model, "history_", None)
    if hist is not None:
        data = hist.to_dict() if hasattr(hist, "to_dict") else hist
        keep = {"train_loss", "val_loss", "train_auc", "val_auc"}
        if isinstance(data, Mapping):
            return history_series({k: v for k, v in data.items() if k in keep})
        return history_series(data)
    evals = getattr(model, "evals_result_", None)
    if isinstance(evals, Mapping):
        flat: dict[str, Any] = {}
        for split, metrics_ in evals.items():
            if isinstance(metrics_, Mapping):
                for metric, values in metrics_.items():
                    flat[f"{split}_{metric}"] = values
        return history_series(flat)
    losses = getattr(model, "loss_history_", None)
    if losses is not None and len(losses) > 1:
        return {"train_loss": [float(v) for v in losses]}
    return {}


def _gain_of(model: Any, names: Sequence[str]) -> dict[str, float] | None:
    if getattr(model, "family", "") != "bdt":
        return None
    try:
        gain = np.asarray(model.feature_importances_, dtype=np.float64)
    except Exception:
        return None
    if gain.shape != (len(names),):
        return None
    return {n: float(g) for n, g in zip(names, gain, strict=True)}


def _train_one(
    spec: Any,
    train: Dataset,
    valid: Dataset | None,
    cfg: RunConfig,
    *,
    log: Log,
) -> TrainedModel:
    from hepsift.models import create

    params = dict(spec.params)
    cls_params = _model_params(spec.family)
    if "random_state" in cls_params and "random_state" not in params:
        params["random_state"] = cfg.seed
    elif "seed" in cls_params and "seed" not in params:
        params["seed"] = cfg.seed
    if "progress" in cls_params and "progress" not in params:
        params["progress"] = False
    model = create(spec.family, **params)
    w = train.training_weight(negative=cfg.weights.negative, balance_classes=cfg.weights.balance)
    fit_kwargs: dict[str, Any] = {}
    supports = getattr(type(model), "supports_eval_set", spec.family in EVAL_SET_FAMILIES)
    if valid is not None and len(valid) and supports:
        wv = valid.training_weight(
            negative=cfg.weights.negative, balance_classes=cfg.weights.balance
        )
        fit_kwargs["eval_set"] = (valid.X, valid.y, wv)
    log(f"training {spec.name} ({spec.family}) on {len(train)} events")
    t0 = time.perf_counter()
    try:
        model.fit(train.X, train.y, sample_weight=w, **fit_kwargs)
    except HepsiftError:
        raise
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ModelError(
            f"model '{spec.name}' ({spec.family}) failed to train: {str(exc).splitlines()[0]}"
        ) from exc
    seconds = time.perf_counter() - t0
    return TrainedModel(
        name=spec.name,
        family=spec.family,
        params=model.get_params(deep=False),
        model=model,
        seconds=seconds,
        history=_history_of(model),
        gain=_gain_of(model, train.feature_names),
    )


def _model_params(family: str) -> dict[str, Any]:
    from hepsift.models.registry import hyperparameters

    return hyperparameters(family)


# -- the run ---------------------------------------------------------------------------------


def _split(ds: Dataset, cfg: RunConfig) -> tuple[Dataset, Dataset | None, Dataset, float, str]:
    """(train, validation or None, test, yield scale of the test split, note)."""
    f = cfg.split.fractions
    if len(f) == 1:
        return ds, None, ds, 1.0, "train and test are the same events (split.fractions = [1.0])"
    parts = ds.split(f, by=cfg.split.by, seed=cfg.seed)
    if len(parts) == 2:
        train, test = parts
        valid = None
    else:
        train, valid, test = parts
    w_all = float(np.sum(ds.weight))
    w_test = float(np.sum(test.weight))
    scale = w_all / w_test if w_test > 0 else 1.0 / f[-1]
    return train, valid, test, scale, ""


def _scale(
    train: Dataset, others: Sequence[Dataset | None], cfg: RunConfig
) -> tuple[Any, Dataset, list[Dataset | None]]:
    from dataclasses import replace

    if cfg.scaling == "none":
        return None, train, list(others)
    Scaler = _optional("hepsift.features.scaling", "Scaler", "feature scaling")
    scaler = Scaler(cfg.scaling).fit(train.X, sample_weight=np.abs(train.weight))

    def tr(d: Dataset | None) -> Dataset | None:
        if d is None:
            return None
        return replace(d, X=np.asarray(scaler.transform(d.X), dtype=np.float32), meta=dict(d.meta))

    out = tr(train)
    assert out is not None
    return scaler, out, [tr(d) for d in others]


def run(
    config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig | None = None,
    *,
    overrides: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    log: Log | None = None,
    prepared: PreparedData | None = None,
    progress: bool = False,
) -> RunResult:
    """Run a config end to end and return the finished run folder (see the module docstring).

    ``config``: a shipped name, a YAML path, a mapping or a :class:`RunConfig` (None: the
    default config). ``overrides``: ``key.path=value`` strings. ``out``: the folder holding run
    folders (default ``output.dir`` of the config). ``prepared``: already prepared data (skips
    generation/reading; for tests and notebooks). ``progress``: show the generator's progress
    bar.
    """
    from hepsift.report.rundir import RunDir

    log = log or _null_log
    started = datetime.now(UTC)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides=overrides)
    if isinstance(config, RunConfig) and overrides:
        cfg = load_config(cfg.resolved(), overrides=overrides)

    t = time.perf_counter()
    if prepared is None:
        prepared = prepare_data(cfg, log=log, scheduler=scheduler, progress=progress)
    else:
        prepared = _finalise(prepared, cfg)
    ds = prepared.dataset
    timings["data_s"] = time.perf_counter() - t
    log(f"dataset: {ds!r}")

    train, valid, test, yield_scale, split_note = _split(ds, cfg)
    if split_note:
        prepared.notes.append(split_note)
    scaler, train_s, (valid_s, test_s) = _scale(train, [valid, test], cfg)
    assert test_s is not None

    def own_scaling(family: str) -> bool:
        # families with a `scaling` hyperparameter scale inside the model (saved with it and
        # part of its ONNX graph): they get raw features, never scaled twice
        return "scaling" in _model_params(family)

    def inputs(family: str) -> tuple[Dataset, Dataset | None, Dataset]:
        if scaler is None or own_scaling(family):
            return train, valid, test
        assert test_s is not None
        return train_s, valid_s, test_s

    t = time.perf_counter()
    trained = [_train_one(spec, *inputs(spec.family)[:2], cfg, log=log) for spec in cfg.models]
    timings["training_s"] = time.perf_counter() - t

    from hepsift.evaluate import evaluate_model, metrics_document

    t = time.perf_counter()
    evaluations = []
    for i, tm in enumerate(trained):
        log(f"evaluating {tm.name}")
        tm_train, _, tm_test = inputs(tm.family)
        ev = evaluate_model(
            tm.name,
            tm.model.predict_proba,
            tm_train,
            tm_test,
            family=tm.family,
            threshold=cfg.evaluation.threshold,
            working_points=cfg.evaluation.working_points,
            bootstrap=cfg.evaluation.bootstrap,
            ks_alpha=cfg.evaluation.ks_alpha,
            yield_scale=yield_scale,
            importance=cfg.evaluation.importance,
            importance_repeats=cfg.evaluation.importance_repeats,
            importance_events=cfg.evaluation.importance_events,
            seed=cfg.seed + i,
        )
        ev.extra["train_seconds"] = tm.seconds
        if tm.gain is not None:
            ev.extra["gain_importance"] = tm.gain
        evaluations.append(ev)
    timings["evaluation_s"] = time.perf_counter() - t

    study: dict[str, Any] | None = None

    out_root = Path(out) if out is not None else Path(cfg.output.dir)
    with RunDir(out_root, cfg.name, stamp=None) as rd:
        import yaml

        rd.write_text("config.yaml", yaml.safe_dump(cfg.resolved(), sort_keys=False))
        if cfg.study is not None:
            t = time.perf_counter()
            study = _run_study(cfg, prepared, log=log, out=rd.path / "pnn-study")
            timings["study_s"] = time.perf_counter() - t
        for tm in trained:
            _save_model(rd, tm, None if own_scaling(tm.family) else scaler, cfg, log=log)
        doc = metrics_document(
            evaluations,
            test=test,
            train=train,
            yield_scale=yield_scale,
            extra={
                "config": cfg.name,
                "yields": {k: v for k, v in ds.yields().items()},
                "n_validation": None if valid is None else len(valid),
                "study": study,
            },
        )
        t = time.perf_counter()
        from hepsift.report.build import build_report

        figure_seconds = build_report(
            rd,
            cfg=cfg,
            prepared=prepared,
            train=train_s,
            test=test_s,
            raw_train=train,
            trained=trained,
            evaluations=evaluations,
            metrics=doc,
            study=study,
            yield_scale=yield_scale,
            timings=timings,
        )
        timings["report_s"] = time.perf_counter() - t
        timings["figures_s"] = sum(figure_seconds.values())
        timings["total_s"] = time.perf_counter() - t0
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        doc["figure_seconds"] = {k: round(v, 3) for k, v in figure_seconds.items()}
        rd.write_json("metrics.json", doc)
        from hepsift.report.provenance import provenance

        rd.write_json(
            "provenance.json",
            provenance(
                seeds={"run": cfg.seed, "split": cfg.seed, "bootstrap": cfg.seed},
                config_name=cfg.name,
                data_files=prepared.data_files,
                started=started,
                extra={"timings": doc["timings"], "data_source": prepared.source},
            ),
        )
        final = rd.finish()
    log(f"run folder: {final}")
    return RunResult(path=final, config=cfg, metrics=doc, evaluations=evaluations, timings=timings)


def _save_model(rd: Any, tm: TrainedModel, scaler: Any, cfg: RunConfig, *, log: Log) -> None:
    import json

    target = rd.path / "models" / tm.name
    try:
        tm.model.save(target)
    except ModelError as exc:
        tm.notes.append(f"not saved: {exc}")
        return
    if scaler is not None:
        rd.write_text(f"models/{tm.name}/scaler.json", json.dumps(scaler.to_dict(), indent=2))
    if cfg.output.onnx and getattr(tm.model, "onnx_supported", False):
        try:
            tm.onnx = tm.model.to_onnx(rd.path / "models" / f"{tm.name}.onnx")
        except (ModelError, ImportError, RuntimeError, ValueError) as exc:
            tm.notes.append(f"no ONNX export: {str(exc).splitlines()[0]}")
            log(f"{tm.name}: no ONNX export ({exc})")
    elif cfg.output.onnx:
        tm.notes.append(f"family '{tm.family}' has no ONNX export")


def _run_study(cfg: RunConfig, prepared: PreparedData, *, log: Log, out: Path) -> dict[str, Any]:
    """The parametric-network study (:func:`hepsift.studies.pnn.study`) on the run's data."""
    from hepsift.report.studies import write_pnn_study
    from hepsift.studies.pnn import study

    assert cfg.study is not None
    if prepared.dataset.param is None:
        return {"status": "skipped", "reason": "the data carry no mass parameter per event"}
    log("running the parametric-network study")
    result = study(
        prepared.dataset,
        masses=list(cfg.study.masses_gev) or None,
        seed=cfg.seed,
        log=log,
        **cfg.study.params,
    )
    result["files"] = write_pnn_study(result, out)
    result["auc_vs_mass"] = _study_curves(result)
    return result


def _study_curves(result: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """AUC vs mass (GeV) per network kind, from the study's per-mass results."""
    curves: dict[str, dict[str, list[float]]] = {}

    def add(label: str, per_mass: Any) -> None:
        if not isinstance(per_mass, Mapping):
            return
        points = sorted((float(k), float(v["auc"])) for k, v in per_mass.items() if "auc" in v)
        if points:
            curves[label] = {"mass": [p[0] for p in points], "auc": [p[1] for p in points]}

    dedicated = result.get("dedicated")
    if isinstance(dedicated, Mapping):
        add("dedicated networks", dedicated.get("per_mass"))
    pnn = result.get("pnn")
    if isinstance(pnn, Mapping):
        for key, entry in pnn.items():
            if isinstance(entry, Mapping):
                add(f"pNN {key}", entry.get("per_mass"))
    interp = result.get("interpolation")
    if isinstance(interp, Mapping):
        add("pNN, mass held out", interp.get("held_out"))
    return curves
