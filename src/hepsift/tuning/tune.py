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
validation split, maximised by a seeded TPE sampler. Torch models (``mlp``) report the
validation AUC after every epoch to a MedianPruner, which stops unpromising trials early.
Results go to ``OUT/best_params.json`` (best value and hyperparameters, fixed ones included)
and ``OUT/trials.json`` (every trial: number, state, value, params, duration); both are written
atomically. CLI: ``hepsift tune CONFIG [--out DIR]``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigError, DataError, suggest

__all__ = ["TuneResult", "load_table", "load_tune_config", "tune"]

_TOP_KEYS = ("model", "params", "space", "trials", "timeout_s", "seed", "data", "refit")
_DATA_KEYS = ("path", "label", "weight", "features", "validation_fraction", "negative_weights")
_SPACE_KEYS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}


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


def _unknown(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key '{key}'{suggest(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )


def load_tune_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check a tuning config (YAML path or dict); ConfigError names what is wrong."""
    import yaml

    from hepsift.models.registry import MODELS, hyperparameters

    if isinstance(source, Mapping):
        cfg = dict(source)
        base = Path.cwd()
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"tuning config '{path}' does not exist")
        try:
            cfg = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"tuning config '{path}' is not valid YAML: {exc}") from None
        if not isinstance(cfg, dict):
            raise ConfigError(f"tuning config '{path}' must be a mapping at the top level")
        base = path.parent
    _unknown(cfg, _TOP_KEYS, "tuning config")
    for key in ("model", "space", "data"):
        if key not in cfg:
            raise ConfigError(f"tuning config lacks '{key}'")
    name = cfg["model"]
    if name not in MODELS or name.endswith("-regressor"):
        valid = [m for m in MODELS if not m.endswith("-regressor")]
        raise ConfigError(
            f"tuning config: unknown classifier '{name}'{suggest(str(name), valid)} "
            f"(known: {', '.join(sorted(valid))})"
        )
    allowed = tuple(hyperparameters(name))
    params = dict(cfg.get("params") or {})
    _unknown(params, allowed, f"tuning config params of '{name}'")
    space = cfg["space"]
    if not isinstance(space, dict) or not space:
        raise ConfigError("tuning config 'space' must map hyperparameter names to ranges")
    _unknown(space, allowed, f"tuning config space of '{name}'")
    for hp, spec in space.items():
        if not isinstance(spec, dict) or spec.get("type") not in _SPACE_KEYS:
            got = spec.get("type") if isinstance(spec, dict) else spec
            raise ConfigError(
                f"space '{hp}': type must be one of {list(_SPACE_KEYS)}; got {got!r}"
                f"{suggest(str(got), _SPACE_KEYS)}"
            )
        _unknown(spec, _SPACE_KEYS[spec["type"]], f"space '{hp}'")
        if spec["type"] == "categorical":
            if not isinstance(spec.get("choices"), list) or not spec["choices"]:
                raise ConfigError(f"space '{hp}': categorical needs a non-empty 'choices' list")
        else:
            if "low" not in spec or "high" not in spec:
                raise ConfigError(f"space '{hp}': {spec['type']} needs 'low' and 'high'")
            if not float(spec["low"]) < float(spec["high"]):
                raise ConfigError(f"space '{hp}': low {spec['low']} must be < high {spec['high']}")
            if spec.get("log") and float(spec["low"]) <= 0:
                raise ConfigError(f"space '{hp}': a log range needs low > 0; got {spec['low']}")
    data = cfg["data"]
    if not isinstance(data, dict):
        raise ConfigError("tuning config 'data' must be a mapping")
    _unknown(data, _DATA_KEYS, "tuning config data")
    for key in ("path", "label", "features"):
        if key not in data:
            raise ConfigError(f"tuning config data lacks '{key}'")
    data = dict(data)
    p = Path(str(data["path"]))
    data["path"] = p if p.is_absolute() else base / p
    frac = float(data.get("validation_fraction", 0.25))
    if not 0.0 < frac < 1.0:
        raise ConfigError(f"data validation_fraction must be in (0, 1); got {frac}")
    data["validation_fraction"] = frac
    trials = int(cfg.get("trials", 20))
    if trials < 1:
        raise ConfigError(f"tuning config trials must be >= 1; got {trials}")
    return {
        "model": name,
        "params": params,
        "space": space,
        "trials": trials,
        "timeout_s": cfg.get("timeout_s"),
        "seed": int(cfg.get("seed", 0)),
        "data": data,
        "refit": bool(cfg.get("refit", True)),
    }


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
    X = np.column_stack([ak.to_numpy(table[f]).astype(np.float32) for f in features])
    y_raw = ak.to_numpy(table[label])
    y = np.asarray(y_raw).astype(np.int64)
    w = ak.to_numpy(table[weight]).astype(np.float64) if weight else np.ones(len(y))
    return X, y, w


def _suggest(trial: Any, name: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "float":
        return trial.suggest_float(
            name,
            float(spec["low"]),
            float(spec["high"]),
            log=bool(spec.get("log", False)),
            step=spec.get("step"),
        )
    if kind == "int":
        return trial.suggest_int(
            name,
            int(spec["low"]),
            int(spec["high"]),
            log=bool(spec.get("log", False)),
            step=int(spec.get("step", 1)),
        )
    # Optuna stores only primitive categorical values: lists (e.g. layer widths) go as JSON
    keys = [json.dumps(c) for c in spec["choices"]]
    return _decode(trial.suggest_categorical(name, keys))


def _decode(key: str) -> Any:
    value = json.loads(key)
    return tuple(value) if isinstance(value, list) else value


def _decode_params(params: dict[str, Any], space: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _decode(v) if space.get(k, {}).get("type") == "categorical" else v
        for k, v in params.items()
    }


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple | set):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


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


def tune(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    out: str | os.PathLike[str] | None = None,
    data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> TuneResult:
    """Run the study described by ``config``; write results to ``out`` (when given).

    ``data=(X, y, w)`` overrides the table named in the config (for use from Python).
    """
    import optuna

    from hepsift.dataset import split_indices
    from hepsift.models.registry import create
    from hepsift.train.weights import training_weights

    cfg = load_tune_config(config)
    dcfg = cfg["data"]
    if data is None:
        X, y, w = load_table(
            dcfg["path"],
            str(dcfg["label"]),
            [str(f) for f in dcfg["features"]],
            dcfg.get("weight"),
        )
    else:
        X, y, w = (np.asarray(a) for a in data)
    if np.unique(y).size < 2:
        raise DataError(f"tuning data holds only one class ({np.unique(y).tolist()})")
    train_idx, val_idx = split_indices(
        len(y),
        (1.0 - dcfg["validation_fraction"], dcfg["validation_fraction"]),
        seed=cfg["seed"],
        y=y,
    )
    wt = training_weights(y, w, negative=str(dcfg.get("negative_weights", "keep")))
    Xt, yt, wtt = X[train_idx], y[train_idx], wt[train_idx]
    Xv, yv, wv = X[val_idx], y[val_idx], w[val_idx]
    name = cfg["model"]
    is_torch = name == "mlp"

    def objective(trial: Any) -> float:
        params = {**cfg["params"]}
        for hp, spec in cfg["space"].items():
            params[hp] = _suggest(trial, hp, spec)
        model = create(name, **params)
        fit_kw: dict[str, Any] = {}
        if is_torch or name == "bdt":
            fit_kw["eval_set"] = (Xv, yv, np.abs(wv))
        if is_torch:

            def report(epoch: int, history: Any) -> None:
                value = history.val_auc[-1]
                if math.isfinite(value):
                    trial.report(value, epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned()

            fit_kw["on_epoch"] = report
        model.fit(Xt, yt, sample_weight=wtt, **fit_kw)
        value = _objective_score(model, Xv, yv, wv)
        if not math.isfinite(value):
            raise DataError("validation AUC is undefined (a class has no positive weight)")
        return value

    old_verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=cfg["seed"]),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
            if is_torch
            else optuna.pruners.NopPruner(),
        )
        study.optimize(
            objective,
            n_trials=cfg["trials"],
            timeout=cfg["timeout_s"],
            show_progress_bar=False,
            catch=(),
        )
    finally:
        optuna.logging.set_verbosity(old_verbosity)

    trials = []
    for t in study.trials:
        dur = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if (t.datetime_complete and t.datetime_start)
            else None
        )
        trials.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": _decode_params(t.params, cfg["space"]),
                "duration_s": dur,
                "last_step": t.last_step,
            }
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise DataError("no tuning trial completed (all pruned or failed)")
    best = study.best_trial
    best_params = {**cfg["params"], **_decode_params(best.params, cfg["space"])}
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _write_json(
            out_dir / "best_params.json",
            {
                "model": name,
                "metric": "validation_auc",
                "best_value": best.value,
                "best_trial": best.number,
                "best_params": best_params,
                "n_trials": len(trials),
                "n_pruned": sum(t["state"] == "PRUNED" for t in trials),
                "seed": cfg["seed"],
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        _write_json(out_dir / "trials.json", trials)
        if cfg["refit"]:
            model = create(name, **best_params)
            kw = {"eval_set": (Xv, yv, np.abs(wv))} if name in ("mlp", "bdt") else {}
            model.fit(Xt, yt, sample_weight=wtt, **kw)
            model.save(out_dir / "model")
    return TuneResult(
        model=name,
        best_value=float(best.value) if best.value is not None else math.nan,
        best_params=best_params,
        trials=trials,
        out=out_dir,
    )
