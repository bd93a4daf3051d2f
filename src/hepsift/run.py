"""``hepsift run``: config -> data -> features -> models -> evaluation -> run folder and report.

:func:`run` is the whole job. It checks the config first (nothing is written on a mistake),
prepares the data (generates the samples of a scenario into a cache folder, or reuses them;
reads sample files; or takes inline rows), applies the selection, builds the features, splits,
scales (fit on train only), trains every model, evaluates them on the test split and writes the
run folder atomically (``runs/.<name>.partial`` renamed at the end, with a ``DONE`` marker)::

    runs/<config-name>-<UTC stamp>/
        config.yaml  provenance.json  metrics.json  report.html  DONE
        plots/*.png *.pdf   models/<name>/ (model.save)   models/<name>.onnx

Every saved model takes the raw features the run read: families that do not scale their own
inputs (``scales_inputs`` False) are trained inside :class:`hepsift.models.Scaled`, which saves
the run's scaler with the model and puts it in front of its ONNX graph.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.config import RunConfig, load_config
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, HepsiftError, ModelError
from hepsift.prepare import PreparedData, finalise, prepare_data

__all__ = ["RunResult", "TrainedModel", "run"]


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


def _inputs_of(cls: Any, ds: Dataset, *, prefix: str = "") -> dict[str, Any]:
    """The keyword inputs a family declares beyond the table (``param``, ``objects``,
    ``images``), taken from the Dataset attribute of the same name (``eval_`` + name with
    ``prefix="eval_"``)."""
    out: dict[str, Any] = {}
    for name in sorted(cls.inputs - {"table"}):
        value = getattr(ds, name, None)
        if value is None:
            raise ConfigError(f"model family '{cls.family}' takes {name}= but the data have none")
        out[prefix + name] = value
    return out


def _check_inputs(cfg: RunConfig) -> None:
    """Before any data are read: every model's extra inputs can be built from the config
    (``objects`` needs an ``objects:`` section)."""
    from hepsift.models import model_class

    for spec in cfg.models:
        if "objects" in model_class(spec.family).inputs and cfg.objects is None:
            raise ConfigError(
                f"model '{spec.name}' ({spec.family}) takes object inputs: add an 'objects:' "
                "section (collections and slots, e.g. {collections: {photon: 2, jet: 4}})"
            )


def _proba_fn(model: Any, cls: Any, datasets: Sequence[Dataset | None]) -> Any:
    """``predict_proba`` of a table-only model; for a family with extra inputs, a function of
    the X of one of ``datasets`` that adds that dataset's inputs (evaluation passes ds.X)."""
    if cls.inputs == {"table"}:
        return model.predict_proba
    known = [ds for ds in datasets if ds is not None]

    def proba(X: Any) -> Any:
        for ds in known:
            if X is ds.X:
                return model.predict_proba(X, **_inputs_of(cls, ds))
        raise ModelError(f"model family '{cls.family}' needs the inputs of the events it scores")

    return proba


def _needs_images(cfg: RunConfig) -> bool:
    """Whether a model of the config takes event images (its family's ``inputs``)."""
    from hepsift.models import model_class

    return any("images" in model_class(m.family).inputs for m in cfg.models)


def _create(spec: Any, cfg: RunConfig) -> Any:
    """The unfitted model of a config's model ``spec``: the run's seed in the family's
    ``seed_param``, its progress bar (``progress_param``) off."""
    from hepsift.models import create, model_class

    cls = model_class(spec.family)
    params = dict(spec.params)
    if cls.seed_param is not None:
        params.setdefault(cls.seed_param, cfg.seed)
    if cls.progress_param is not None:
        params.setdefault(cls.progress_param, False)
    return create(spec.family, **params)


def _train_one(
    spec: Any,
    train: Dataset,
    valid: Dataset | None,
    cfg: RunConfig,
    *,
    log: Log,
) -> TrainedModel:
    """Build, fit and time one model on the raw features of ``train``.

    The family's capabilities decide: the run's seed goes to its ``seed_param``, its progress
    bar (``progress_param``) is off, it gets ``eval_set`` when it ``supports_eval_set``, and
    it is wrapped in :class:`~hepsift.models.Scaled` (scaler fit on the training split with
    ``|weight|``) when it does not scale its own inputs and ``cfg.scaling`` is not ``none``.
    """
    from hepsift.models import Scaled, model_class

    cls = model_class(spec.family)
    model = _create(spec, cfg)
    w = train.training_weight(negative=cfg.weights.negative, balance_classes=cfg.weights.balance)
    fit_kwargs: dict[str, Any] = {}
    keeps_nan = cfg.missing == "keep" and cls.allows_nan  # (bdt) the scaler refuses NaN
    impute = cfg.missing == "keep" and not cls.allows_nan and cfg.impute is not None
    if impute or (cfg.scaling != "none" and not cls.scales_inputs and not keeps_nan):
        # imputation (learned on the training split) lives in the same wrapper as the scaler
        scaling = "none" if cls.scales_inputs else cfg.scaling
        fill = {"median": "median", "mean": "mean", "zero": 0.0}.get(cfg.impute or "")
        model = Scaled(model, scaling=scaling, impute=fill if impute else None)
        fit_kwargs["scaler_weight"] = train.weight  # |event weight|, as the run always scaled
    if valid is not None and len(valid) and cls.supports_eval_set:
        wv = valid.training_weight(
            negative=cfg.weights.negative, balance_classes=cfg.weights.balance
        )
        fit_kwargs["eval_set"] = (valid.X, valid.y, wv)
        fit_kwargs.update(_inputs_of(cls, valid, prefix="eval_"))
    fit_kwargs.update(_inputs_of(cls, train))
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
    inner = model.estimator_ if isinstance(model, Scaled) else model
    return TrainedModel(
        name=spec.name,
        family=spec.family,
        params=inner.get_params(deep=False),
        model=model,
        seconds=seconds,
        history=_history_of(inner),
        gain=_gain_of(inner, train.feature_names),
    )


# -- the run ---------------------------------------------------------------------------------


def _split(ds: Dataset, cfg: RunConfig) -> tuple[Dataset, Dataset | None, Dataset, float, str]:
    """(train, validation or None, test, overall yield scale of the test split, note).

    The overall scale (all weights over test weights) is what the report quotes; evaluation
    scales each sample separately (:func:`hepsift.evaluate.expected_yield_scale`)."""
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
    log = log or _null_log
    clock = _Clock(started=datetime.now(UTC), t0=time.perf_counter())
    cfg = _resolve_config(config, overrides)
    _check_inputs(cfg)
    if cfg.task.type == "regression":
        return _run_regression(
            cfg, out=out, scheduler=scheduler, log=log, prepared=prepared, progress=progress
        )

    with clock.step("data_s"):
        if prepared is None:
            prepared = prepare_data(
                cfg, log=log, scheduler=scheduler, progress=progress, images=_needs_images(cfg)
            )
        else:
            prepared = finalise(prepared, cfg)
    log(f"dataset: {prepared.dataset!r}")

    train, valid, test, yield_scale, split_note = _split(prepared.dataset, cfg)
    if split_note:
        prepared.notes.append(split_note)
    splits = _Splits(train, valid, test, yield_scale)

    with clock.step("training_s"):
        # every model takes raw features (the scaling is inside the saved model)
        trained = [_train_one(spec, train, valid, cfg, log=log) for spec in cfg.models]

    with clock.step("evaluation_s"):
        evaluated = _evaluate_all(trained, splits, prepared.dataset, cfg, log=log)

    out_root = Path(out) if out is not None else Path(cfg.output.dir)
    final, doc = _write_run_folder(
        out_root, cfg, prepared, splits, trained, evaluated, clock=clock, log=log
    )
    log(f"run folder: {final}")
    return RunResult(
        path=final,
        config=cfg,
        metrics=doc,
        evaluations=evaluated.evaluations,
        timings=clock.timings,
    )


@dataclass
class _Clock:
    """When the run started, and the seconds of each of its steps (``timings``)."""

    started: datetime
    t0: float
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, key: str) -> Iterator[None]:
        from hepsift._interrupt import checkpoint

        checkpoint()  # a Ctrl-C Python swallowed stops the run at the next step
        t = time.perf_counter()
        yield
        self.timings[key] = time.perf_counter() - t
        checkpoint()

    def total(self) -> None:
        self.timings["total_s"] = time.perf_counter() - self.t0


@dataclass(frozen=True)
class _Splits:
    """The run's splits and the overall yield scale of its test split (see :func:`_split`)."""

    train: Dataset
    valid: Dataset | None
    test: Dataset
    yield_scale: float


@dataclass(frozen=True)
class _Evaluated:
    """Every model's evaluation and the yield scales it used."""

    evaluations: list[Any]
    test_scale: NDArray[np.float64]  # per test event: its sample's full yield over test yield
    sample_scale: dict[str, float]  # the same factor per sample (quoted in metrics.json)


def _resolve_config(
    config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig | None,
    overrides: Sequence[str],
) -> RunConfig:
    """The validated config, with the ``key.path=value`` overrides applied."""
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides=overrides)
    if isinstance(config, RunConfig) and overrides:
        cfg = load_config(cfg.resolved(), overrides=overrides)
    return cfg


def _evaluate_all(
    trained: Sequence[TrainedModel], splits: _Splits, ds: Dataset, cfg: RunConfig, *, log: Log
) -> _Evaluated:
    """Evaluate every trained model on the test split (cuts chosen on the validation split).

    Each sample's test (validation) yield is scaled to its full expected yield; the best cut is
    chosen on the validation split and its Z quoted on the test split.
    """
    from hepsift.evaluate import evaluate_model, expected_yield_scale
    from hepsift.models import model_class

    train, valid, test = splits.train, splits.valid, splits.test
    test_scale, sample_scale = expected_yield_scale(test, ds)
    valid_scale = 1.0 if valid is None else expected_yield_scale(valid, ds)[0]
    evaluations = []
    for i, tm in enumerate(trained):
        log(f"evaluating {tm.name}")
        cls = model_class(tm.family)
        table_only = cls.inputs == {"table"}  # permutation importance permutes X alone
        ev = evaluate_model(
            tm.name,
            _proba_fn(tm.model, cls, (train, valid, test)),
            train,
            test,
            family=tm.family,
            threshold=cfg.evaluation.threshold,
            working_points=cfg.evaluation.working_points,
            bootstrap=cfg.evaluation.bootstrap,
            ks_alpha=cfg.evaluation.ks_alpha,
            yield_scale=test_scale,
            validation=valid,
            validation_yield_scale=valid_scale,
            importance=cfg.evaluation.importance and table_only,
            importance_repeats=cfg.evaluation.importance_repeats,
            importance_events=cfg.evaluation.importance_events,
            seed=cfg.seed + i,
        )
        ev.extra["train_seconds"] = tm.seconds
        if tm.gain is not None:
            ev.extra["gain_importance"] = tm.gain
        evaluations.append(ev)
    return _Evaluated(evaluations, test_scale, sample_scale)


def _write_run_folder(
    out_root: Path,
    cfg: RunConfig,
    prepared: PreparedData,
    splits: _Splits,
    trained: list[TrainedModel],
    evaluated: _Evaluated,
    *,
    clock: _Clock,
    log: Log,
) -> tuple[Path, dict[str, Any]]:
    """Write the run folder atomically: config, study, models, report, metrics, provenance.

    Returns the finished folder and the metrics document written into it.
    """
    import yaml

    from hepsift.report.rundir import RunDir

    with RunDir(out_root, cfg.name, stamp=None) as rd:
        if rd.swept:
            log(f"removed {len(rd.swept)} partial run folder(s) of killed runs in {out_root}")
        rd.write_text("config.yaml", yaml.safe_dump(cfg.resolved(), sort_keys=False))
        study: dict[str, Any] | None = None
        if cfg.study is not None:
            with clock.step("study_s"):
                study = _run_study(cfg, prepared, log=log, out=rd.path / "pnn-study")
        for tm in trained:
            _save_model(rd, tm, cfg, log=log)
        doc = _metrics_doc(cfg, prepared.dataset, splits, evaluated, study)
        if cfg.unsupervised is not None:  # read by the report's unsupervised section
            from hepsift.unsupervised.run import run_unsupervised

            with clock.step("unsupervised_s"):
                doc["unsupervised"] = run_unsupervised(
                    cfg.unsupervised.model_dump(),
                    prepared.dataset,
                    seed=cfg.seed,
                    log=log,
                    out=rd.path / "unsupervised",
                )
        if cfg.fit.enabled:
            with clock.step("fit_s"):
                _fit_all(rd.path / "fits", cfg, splits, trained, evaluated, doc, log=log)
        figure_seconds = _write_report(
            rd, cfg, prepared, splits, trained, evaluated, doc, study, clock=clock
        )
        doc["timings"] = {k: round(v, 3) for k, v in clock.timings.items()}
        doc["figure_seconds"] = {k: round(v, 3) for k, v in figure_seconds.items()}
        rd.write_json("metrics.json", doc)
        _write_provenance(rd, cfg, prepared, doc, started=clock.started)
        final: Path = rd.finish()
    return final, doc


def _metrics_doc(
    cfg: RunConfig,
    ds: Dataset,
    splits: _Splits,
    evaluated: _Evaluated,
    study: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run's metrics.json document (timings are added once the report is built)."""
    from hepsift.evaluate import metrics_document

    return metrics_document(
        evaluated.evaluations,
        test=splits.test,
        train=splits.train,
        yield_scale=evaluated.test_scale,
        extra={
            "config": cfg.name,
            "yield_scale": evaluated.sample_scale,
            "yields": {k: v for k, v in ds.yields().items()},
            "n_validation": None if splits.valid is None else len(splits.valid),
            "study": study,
        },
    )


def _fit_all(
    folder: Path,
    cfg: RunConfig,
    splits: _Splits,
    trained: Sequence[TrainedModel],
    evaluated: _Evaluated,
    doc: Any,
    *,
    log: Log,
) -> None:
    """The ``fit:`` step (:mod:`hepsift.evaluate.sensitivity`): per binary model, the pyhf fit
    of its test scores; ``fits/`` written and ``sensitivity`` added to ``doc['models']``."""
    from hepsift.evaluate.sensitivity import fit_scores, write_fits

    models = {tm.name: tm.model for tm in trained}
    yw = splits.test.weight * evaluated.test_scale
    results, scores = {}, {}
    for ev in evaluated.evaluations:
        if ev.proba_test is None or ev.proba_test.shape[1] != 2:
            continue  # binary models only
        log(f"fitting {ev.name} (pyhf)")
        predict = models[ev.name].predict_proba if ev.name in models else None
        scores[ev.name] = ev.proba_test[:, 1]
        try:
            results[ev.name] = fit_scores(
                scores[ev.name], splits.test, yw, cfg.fit, predict=predict
            )
        except HepsiftError as exc:
            log(f"{ev.name}: no fit ({exc})")
    sens = write_fits(folder, results, test=splits.test, yield_weight=yw, scores=scores)
    for name, s in sens.items():
        doc["models"][name]["sensitivity"] = s


def _write_report(
    rd: Any,
    cfg: RunConfig,
    prepared: PreparedData,
    splits: _Splits,
    trained: list[TrainedModel],
    evaluated: _Evaluated,
    doc: dict[str, Any],
    study: dict[str, Any] | None,
    *,
    clock: _Clock,
) -> dict[str, float]:
    """Build report.html and its figures; record report, figure and total seconds.

    Returns the seconds spent on each figure.
    """
    from hepsift.report.build import build_report

    with clock.step("report_s"):
        figure_seconds = build_report(
            rd,
            cfg=cfg,
            prepared=prepared,
            train=splits.train,
            test=splits.test,
            raw_train=splits.train,
            trained=trained,
            evaluations=evaluated.evaluations,
            metrics=doc,
            study=study,
            yield_scale=splits.yield_scale,
            timings=clock.timings,
        )
    clock.timings["figures_s"] = sum(figure_seconds.values())
    clock.total()
    return figure_seconds


def _write_provenance(
    rd: Any, cfg: RunConfig, prepared: PreparedData, doc: Mapping[str, Any], *, started: datetime
) -> None:
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


def _save_model(rd: Any, tm: TrainedModel, cfg: RunConfig, *, log: Log) -> None:
    target = rd.path / "models" / tm.name
    try:
        tm.model.save(target)
    except ModelError as exc:
        tm.notes.append(f"not saved: {exc}")
        return
    if cfg.output.onnx:
        try:
            tm.onnx = tm.model.to_onnx(rd.path / "models" / f"{tm.name}.onnx")
        except (ModelError, ImportError, RuntimeError, ValueError) as exc:
            tm.notes.append(f"no ONNX export: {str(exc).splitlines()[0]}")
            log(f"{tm.name}: no ONNX export ({exc})")


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
        points = sorted(
            (float(k), float(v["auc"]), float(v.get("auc_err", float("nan"))))
            for k, v in per_mass.items()
            if "auc" in v
        )
        if points:
            curves[label] = {
                "mass": [p[0] for p in points],
                "auc": [p[1] for p in points],
                "auc_err": [p[2] for p in points],  # bootstrap std (nan: not computed)
            }

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


# -- regression (calibration on generated truth) ------------------------------------------------


def _run_regression(
    cfg: RunConfig,
    *,
    out: str | os.PathLike[str] | None,
    scheduler: str | None,
    log: Log,
    prepared: PreparedData | None,
    progress: bool,
) -> RunResult:
    """``task: type: regression``: regressors learn ``target / reference`` from the features
    (:mod:`hepsift.studies.calibration`); the run folder holds the models, metrics.json
    (sigma_68 and response before / after, binned) and a report with the figures."""
    import yaml

    from hepsift.report.rundir import RunDir
    from hepsift.studies.calibration import fit_calibration, report_html, write_figures

    clock = _Clock(started=datetime.now(UTC), t0=time.perf_counter())
    task = cfg.task
    assert task.target is not None and task.reference is not None
    wanted = list(dict.fromkeys([task.target, task.reference, *task.bins]))
    read_cfg = cfg.model_copy(
        update={"features": [*cfg.features, *(c for c in wanted if c not in cfg.features)]}
    )
    with clock.step("data_s"):
        if prepared is None:
            prepared = prepare_data(read_cfg, log=log, scheduler=scheduler, progress=progress)
        else:
            prepared = finalise(prepared, read_cfg)
    ds = prepared.dataset
    col = {n: ds.X[:, i].astype(np.float64) for i, n in enumerate(ds.feature_names)}
    models = []
    for spec in cfg.models:
        models.append((spec.name, _create(spec, cfg)))
    log(f"calibrating {task.target} from {task.reference} with {len(models)} regressors")
    with clock.step("training_s"):
        doc, fitted = fit_calibration(
            np.column_stack([col[f] for f in cfg.features]),
            col[task.target],
            col[task.reference],
            feature_names=cfg.features,
            models=models,
            bins={k: col[k] for k in task.bins},
            bin_edges=task.bins,
            fractions=cfg.split.fractions,
            seed=cfg.seed,
        )
    out_root = Path(out) if out is not None else Path(cfg.output.dir)
    with RunDir(out_root, cfg.name, stamp=None) as rd:
        rd.write_text("config.yaml", yaml.safe_dump(cfg.resolved(), sort_keys=False))
        for name, model in fitted.items():
            model.save(rd.path / "models" / name)
        figures = write_figures(doc, rd.path / "figures", dpi=cfg.output.dpi)
        rd.write_text("report.html", report_html(doc, f"{cfg.name}: {cfg.description}", figures))
        metrics = {k: v for k, v in doc.items() if not k.startswith("_")}
        metrics["models"] = {
            n: {k: v for k, v in m.items() if not k.startswith("_")}
            for n, m in doc["models"].items()
        }
        metrics.update(task="regression", target=task.target, reference=task.reference)
        metrics["timings"] = {k: round(v, 3) for k, v in clock.timings.items()}
        rd.write_json("metrics.json", metrics)
        final: Path = rd.finish()
    log(f"run folder: {final}")
    return RunResult(path=final, config=cfg, metrics=metrics, evaluations=[], timings=clock.timings)
