"""Hyperparameter tuning with Optuna over a search space declared in YAML.

Config (YAML or a dict)::

    model: mlp                      # any registered classifier family
    params: {epochs: 30}            # fixed hyperparameters (optional)
    space:                          # searched hyperparameters
      lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      hidden: {type: categorical, choices: [[32], [64, 64]]}
      dropout: {type: float, low: 0.0, high: 0.3}
      batch_size: {type: int, low: 64, high: 512, log: true}
    trials: 20
    timeout_s: null                 # optional wall-time limit in seconds
    seed: 0                         # TPE sampler seed, validation split seed
    data:
      path: table.parquet           # CSV or Parquet (hepsift.io.tables)
      label: label                  # integer class column
      weight: weight                # optional per-event weight column
      features: [f0, f1, f2]
      validation_fraction: 0.25     # stratified split held out for the objective
      negative_weights: keep        # keep | abs | drop, applied to training weights
    refit: true                     # fit the best model again and save it in OUT/model

The objective is the weighted ROC AUC (binary; mean one-vs-rest AUC for more classes) on the
validation split, maximised by a seeded TPE sampler. Families that take an ``eval_set``
(class attribute ``supports_eval_set``: ``mlp``, ``bdt``, ...) get the validation split for early
stopping; families that report epochs (``reports_epochs``: the torch models) report the
validation AUC after every epoch to a MedianPruner, which stops unpromising trials early.
The config is checked by the pydantic models :class:`TuneConfig`, :class:`SpaceRange` and
:class:`DataSpec` (unknown keys are rejected with the nearest valid one, as in a run config).
Results go to ``OUT/best_params.json`` (best value and hyperparameters, fixed ones included)
and ``OUT/trials.json`` (every trial: number, state, value, params, duration, flag); both are
written atomically. A trial whose validation AUC is exactly 0.5 (the model scores every event
alike: no split was possible) is flagged (``flag``) and recorded as ``FAIL``, never as the best.
A relative ``data.path`` is relative to the config file's folder, as the sample paths of a run
config are. CLI: ``hepsift tune CONFIG [--out DIR]``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hepsift._files import atomic_write_json
from hepsift.errors import ConfigError, DataError, suggest

__all__ = [
    "DataSpec",
    "SpaceRange",
    "TuneConfig",
    "TuneResult",
    "load_table",
    "load_tune_config",
    "tune",
]

#: the keys a search range of each type takes
SPACE_KEYS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpaceRange(_Section):
    """One searched hyperparameter: a float or int range, or a list of categorical choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)
    log: bool = False
    step: float | None = Field(None, allow_inf_nan=False)
    choices: list[Any] | None = None


class DataSpec(_Section):
    """The table to tune on (CSV or Parquet) and its validation split."""

    path: Path
    label: str
    weight: str | None = None
    features: list[str] = Field(min_length=1)
    validation_fraction: float = Field(0.25, gt=0.0, lt=1.0)
    negative_weights: Literal["keep", "abs", "drop"] = "keep"


class TuneConfig(_Section):
    """A tuning config (see the module docstring); ``data.path`` is absolute once loaded."""

    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, SpaceRange] = Field(min_length=1)
    trials: int = Field(20, ge=1, le=1_000_000)
    timeout_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    data: DataSpec
    refit: bool = True


#: the flag of a trial whose validation AUC is exactly 0.5 (recorded as FAIL, never as best)
NO_SPLIT_FLAG = (
    "validation AUC exactly 0.5: the model scores every event alike (no split possible, e.g. "
    "min_child_weight above the training weight of any leaf); not a trained model"
)


class _NoSplit(Exception):
    """Raised in the objective for a trial flagged :data:`NO_SPLIT_FLAG` (Optuna: FAIL)."""


@dataclass
class TuneResult:
    """Best trial and the whole study history."""

    model: str
    best_value: float
    best_params: dict[str, Any]
    trials: list[dict[str, Any]]
    out: Path | None

    @property
    def n_pruned(self) -> int:
        return sum(t["state"] == "PRUNED" for t in self.trials)

    @property
    def n_flagged(self) -> int:
        """Trials flagged as not trained (validation AUC exactly 0.5), recorded as FAIL."""
        return sum(bool(t.get("flag")) for t in self.trials)


def _unknown(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key '{key}'{suggest(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )


def _read_yaml(path: Path) -> dict[str, Any]:
    from hepsift._yaml import load_yaml_file

    if path.is_dir():
        raise ConfigError(f"tuning config '{path}' is a folder; give a YAML file")
    if not path.is_file():
        raise ConfigError(f"tuning config '{path}' does not exist")
    raw = load_yaml_file(path, "tuning config")
    if not isinstance(raw, dict):
        raise ConfigError(f"tuning config '{path}' must be a mapping at the top level")
    return raw


def _check_range(hp: str, spec: SpaceRange) -> None:
    _unknown(spec.model_fields_set, SPACE_KEYS[spec.type], f"space '{hp}'")
    if spec.type == "categorical":
        if not spec.choices:
            raise ConfigError(f"space '{hp}': categorical needs a non-empty 'choices' list")
        return
    if spec.low is None or spec.high is None:
        raise ConfigError(f"space '{hp}': {spec.type} needs 'low' and 'high'")
    if spec.type == "int":
        bad = [
            (k, v)
            for k, v in (("low", spec.low), ("high", spec.high), ("step", spec.step))
            if v is not None and not float(v).is_integer()
        ]
        if bad:
            raise ConfigError(
                f"space '{hp}': an int range needs whole numbers; {bad[0][0]} is {bad[0][1]}"
            )
    if not spec.low < spec.high:
        raise ConfigError(f"space '{hp}': low {spec.low:g} must be < high {spec.high:g}")
    if spec.log and spec.low <= 0:
        raise ConfigError(f"space '{hp}': a log range needs low > 0; got {spec.low:g}")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"space '{hp}': step must be > 0; got {spec.step:g}")


def _check_model(cfg: TuneConfig) -> None:
    from hepsift.models.registry import MODELS, hyperparameters

    name = cfg.model
    valid = [m for m in MODELS if not m.endswith("-regressor")]
    if name not in valid:
        raise ConfigError(
            f"tuning config: unknown classifier '{name}'{suggest(name, valid)} "
            f"(known: {', '.join(sorted(valid))})"
        )
    allowed = tuple(hyperparameters(name))
    _unknown(cfg.params, allowed, f"tuning config params of '{name}'")
    _unknown(cfg.space, allowed, f"tuning config space of '{name}'")


def _check_values(cfg: TuneConfig) -> None:
    """Fixed params, categorical choices and range ends are values the family allows."""
    from hepsift.models.params import check_params

    check_params(cfg.model, cfg.params, where=f"tuning config params of '{cfg.model}'")
    for hp, spec in cfg.space.items():
        where = f"tuning config space '{hp}' of '{cfg.model}'"
        if spec.type == "categorical":
            for value in spec.choices or ():
                choice = tuple(value) if isinstance(value, list) else value
                check_params(cfg.model, {hp: choice}, where=where)
            continue
        for end in (spec.low, spec.high):
            if end is not None:
                as_type = int(end) if spec.type == "int" and float(end).is_integer() else end
                check_params(cfg.model, {hp: as_type}, where=where)


def load_tune_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> TuneConfig:
    """Read and check a tuning config (YAML path or mapping); ConfigError names what is wrong.

    The structure is checked by the pydantic models above (unknown keys are rejected with the
    nearest valid key, as in a run config); then the model name against the registry, the
    params and space keys against its hyperparameters, and each range for consistency.
    A relative ``data.path`` is relative to the config file's folder (the working directory
    for a mapping).
    """
    from hepsift.config import config_error

    if isinstance(source, Mapping):
        raw, base, where = dict(source), Path.cwd(), "tuning config"
    else:
        path = Path(source)
        raw, base, where = _read_yaml(path), path.parent, f"tuning config '{path}'"
    if raw.get("params") is None:
        raw.pop("params", None)
    try:
        cfg = TuneConfig.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, where, root=TuneConfig) from None
    _check_model(cfg)
    for hp, spec in cfg.space.items():
        _check_range(hp, spec)
    _check_values(cfg)
    data_path = cfg.data.path if cfg.data.path.is_absolute() else base / cfg.data.path
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"path": data_path})})


def load_table(
    path: Path, label: str, features: list[str], weight: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (float32), labels (int64) and weights (float64, ones without a column)."""
    import awkward as ak

    from hepsift.io.tables import iterate_table

    if not path.is_file():
        raise DataError(f"tuning data file '{path}' does not exist")
    columns = [*features, label] + ([weight] if weight else [])
    chunks = list(iterate_table([path], columns=columns))
    if not chunks:
        raise DataError(f"tuning data file '{path}' holds no rows")
    table = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    missing = [c for c in columns if c not in table.fields]
    if missing:
        raise DataError(
            f"'{path}' has no column '{missing[0]}'{suggest(missing[0], table.fields)} "
            f"(columns: {', '.join(table.fields)})"
        )
    X = np.column_stack([_numbers(table, f, path, "feature").astype(np.float32) for f in features])
    y = _labels(_numbers(table, label, path, "label"), label, path)
    w = _numbers(table, weight, path, "weight") if weight else np.ones(len(y))
    if weight and not np.isfinite(w).all():
        raise DataError(f"weight column '{weight}' of '{path}' holds NaN or inf values")
    return X, y, w


def _numbers(table: Any, column: str, path: Path, what: str) -> np.ndarray:
    """A column as float64; DataError naming the column when it holds text or lists."""
    import awkward as ak

    try:
        values = np.asarray(ak.to_numpy(table[column]))
        return values.astype(np.float64)
    except (ValueError, TypeError):
        example = str(ak.to_list(table[column][:1]))[:40]
        raise DataError(
            f"{what} column '{column}' of '{path}' is not numeric (first value {example}); "
            "tuning needs numbers"
        ) from None


def _labels(values: np.ndarray, label: str, path: Path) -> np.ndarray:
    """Integer class labels (0, 1, ...) from a numeric column; DataError otherwise."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
    if bad.any():
        raise DataError(
            f"label column '{label}' of '{path}' holds {int(bad.sum())} values that are not "
            f"class numbers 0, 1, ... (e.g. {float(values[bad][0])!r})"
        )
    return values.astype(np.int64)


def _suggest(trial: Any, name: str, spec: SpaceRange) -> Any:
    if spec.type in ("float", "int"):
        assert spec.low is not None and spec.high is not None
        # (Optuna method, number type, step when none is given) of a numeric range
        suggest, kind, default_step = {
            "float": (trial.suggest_float, float, None),
            "int": (trial.suggest_int, int, 1),
        }[spec.type]
        return suggest(
            name,
            kind(spec.low),
            kind(spec.high),
            log=spec.log,
            step=default_step if spec.step is None else kind(spec.step),
        )
    # Optuna stores only primitive categorical values: lists (e.g. layer widths) go as JSON
    keys = [json.dumps(c) for c in spec.choices or ()]
    return _decode(trial.suggest_categorical(name, keys))


def _decode(key: str) -> Any:
    value = json.loads(key)
    return tuple(value) if isinstance(value, list) else value


def _decode_params(params: dict[str, Any], space: Mapping[str, SpaceRange]) -> dict[str, Any]:
    return {
        k: _decode(v) if k in space and space[k].type == "categorical" else v
        for k, v in params.items()
    }


def _objective_score(model: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    from hepsift.dataset import Dataset
    from hepsift.tuning.cv import score_model

    k = int(y.max()) + 1
    data = Dataset(
        X=X,
        y=y,
        weight=w,
        feature_names=tuple(f"f{i}" for i in range(X.shape[1])),
        class_names=tuple(str(i) for i in range(k)),
    )
    return score_model(model, data)["auc"]


@dataclass
class _Split:
    """Training events (training weights) and validation events (physics weights)."""

    Xt: np.ndarray
    yt: np.ndarray
    wt: np.ndarray
    Xv: np.ndarray
    yv: np.ndarray
    wv: np.ndarray


def _split(cfg: TuneConfig, data: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> _Split:
    from hepsift.dataset import split_indices
    from hepsift.train.weights import training_weights

    d = cfg.data
    if data is None:
        X, y, w = load_table(d.path, d.label, list(d.features), d.weight)
    else:
        X, y, w = (np.asarray(a) for a in data)
    if np.unique(y).size < 2:
        raise DataError(f"tuning data holds only one class ({np.unique(y).tolist()})")
    frac = d.validation_fraction
    train_idx, val_idx = split_indices(len(y), (1.0 - frac, frac), seed=cfg.seed, y=y)
    wt = training_weights(y, w, negative=d.negative_weights)
    return _Split(X[train_idx], y[train_idx], wt[train_idx], X[val_idx], y[val_idx], w[val_idx])


def _fit(model: Any, split: _Split, on_epoch: Any = None) -> None:
    """Fit on the training events; the validation events go to families that take an
    ``eval_set`` (early stopping), and ``on_epoch`` to families that report epochs."""
    cls = type(model)
    kw: dict[str, Any] = {}
    if getattr(cls, "supports_eval_set", False):
        kw["eval_set"] = (split.Xv, split.yv, np.abs(split.wv))
    if on_epoch is not None and getattr(cls, "reports_epochs", False):
        kw["on_epoch"] = on_epoch
    model.fit(split.Xt, split.yt, sample_weight=split.wt, **kw)


def _objective(cfg: TuneConfig, split: _Split) -> Any:
    import optuna

    from hepsift.models.registry import create

    def objective(trial: Any) -> float:
        params = {**cfg.params}
        for hp, spec in cfg.space.items():
            params[hp] = _suggest(trial, hp, spec)
        model = create(cfg.model, **params)

        def report(epoch: int, history: Any) -> None:
            value = history.val_auc[-1]
            if math.isfinite(value):
                trial.report(value, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()

        _fit(model, split, on_epoch=report)
        value = _objective_score(model, split.Xv, split.yv, split.wv)
        if not math.isfinite(value):
            raise DataError("validation AUC is undefined (a class has no positive weight)")
        if value == 0.5:
            trial.set_user_attr("flag", NO_SPLIT_FLAG)
            trial.set_user_attr("validation_auc", value)
            raise _NoSplit(NO_SPLIT_FLAG)
        return value

    return objective


def _optimise(cfg: TuneConfig, split: _Split) -> Any:
    import optuna

    from hepsift.models.registry import model_class

    prunes = bool(getattr(model_class(cfg.model), "reports_epochs", False))
    old_verbosity = optuna.logging.get_verbosity()
    # ERROR: a flagged trial (caught _NoSplit) is recorded in trials.json, not logged
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=cfg.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
            if prunes
            else optuna.pruners.NopPruner(),
        )
        study.optimize(
            _objective(cfg, split),
            n_trials=cfg.trials,
            timeout=cfg.timeout_s,
            show_progress_bar=False,
            catch=(_NoSplit,),
        )
    finally:
        optuna.logging.set_verbosity(old_verbosity)
    return study


def _trial_rows(study: Any, space: Mapping[str, SpaceRange]) -> list[dict[str, Any]]:
    rows = []
    for t in study.trials:
        dur = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if (t.datetime_complete and t.datetime_start)
            else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": _decode_params(t.params, space),
                "duration_s": dur,
                "last_step": t.last_step,
                "flag": t.user_attrs.get("flag"),
                "validation_auc": t.value
                if t.value is not None
                else t.user_attrs.get("validation_auc"),
            }
        )
    return rows


def _out_files() -> dict[str, Any]:
    """What ``tune`` writes into ``out``, each with the test that an existing one is its own
    (see :mod:`hepsift._outputs`)."""
    from hepsift._outputs import json_with
    from hepsift.models.base import is_model_dir

    def empty_or_model(path: Path) -> bool:
        return is_model_dir(path) or (
            path.is_dir() and not path.is_symlink() and not any(path.iterdir())
        )

    return {
        "best_params.json": json_with("best_params"),
        "trials.json": json_with("[]"),
        "model": empty_or_model,
    }


def _check_out(out: str | os.PathLike[str], *, force: bool) -> Path:
    """``out`` checked before the study runs: refused when a file or folder tune would replace
    there is not one hepsift wrote (a ``model`` folder with the user's files), unless
    ``force``."""
    from hepsift._outputs import check_output_dir

    return check_output_dir(out, kind="tune", owned=_out_files(), force=force)


def _write_results(
    out_dir: Path,
    cfg: TuneConfig,
    split: _Split,
    best: Any,
    best_params: dict[str, Any],
    trials: list[dict[str, Any]],
    *,
    force: bool = False,
) -> None:
    from hepsift._outputs import claim_output_dir, unwritable
    from hepsift.models.registry import create

    claim_output_dir(out_dir, kind="tune", owned=_out_files(), force=force)
    try:
        _write_json_results(out_dir, cfg, best, best_params, trials)
    except OSError as exc:
        raise unwritable(exc, out_dir, "--out") from None
    if cfg.refit:
        model = create(cfg.model, **best_params)
        _fit(model, split)
        model.save(out_dir / "model", force=force)


def _write_json_results(
    out_dir: Path,
    cfg: TuneConfig,
    best: Any,
    best_params: dict[str, Any],
    trials: list[dict[str, Any]],
) -> None:
    atomic_write_json(
        out_dir / "best_params.json",
        {
            "model": cfg.model,
            "metric": "validation_auc",
            "best_value": best.value,
            "best_trial": best.number,
            "best_params": best_params,
            "n_trials": len(trials),
            "n_pruned": sum(t["state"] == "PRUNED" for t in trials),
            "n_flagged": sum(bool(t.get("flag")) for t in trials),
            "seed": cfg.seed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    atomic_write_json(out_dir / "trials.json", trials)


def tune(
    config: str | os.PathLike[str] | Mapping[str, Any] | TuneConfig,
    *,
    out: str | os.PathLike[str] | None = None,
    data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
    force: bool = False,
) -> TuneResult:
    """Run the study described by ``config``; write results to ``out`` (when given).

    ``data=(X, y, w)`` overrides the table named in the config (for use from Python). ``out``
    is checked before the study runs: a folder holding files hepsift did not write is refused
    (a ConfigError) unless ``force``; only tune's own files (best_params.json, trials.json,
    model/) are ever replaced.
    """
    import optuna

    cfg = config if isinstance(config, TuneConfig) else load_tune_config(config)
    out_dir = _check_out(out, force=force) if out is not None else None
    split = _split(cfg, data)
    study = _optimise(cfg, split)
    trials = _trial_rows(study, cfg.space)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        flagged = sum(bool(t.get("flag")) for t in trials)
        why = (
            f"{flagged} of {len(trials)} had validation AUC exactly 0.5 (no split possible: "
            "check min_child_weight and similar limits against the scale of the weights)"
            if flagged
            else "all pruned or failed"
        )
        raise DataError(f"no tuning trial completed: {why}")
    best = study.best_trial
    best_params = {**cfg.params, **_decode_params(best.params, cfg.space)}
    if out_dir is not None:
        _write_results(out_dir, cfg, split, best, best_params, trials, force=force)
    return TuneResult(
        model=cfg.model,
        best_value=float(best.value) if best.value is not None else math.nan,
        best_params=best_params,
        trials=trials,
        out=out_dir,
    )
