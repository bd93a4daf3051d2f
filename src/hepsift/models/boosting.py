"""Gradient-boosted decision trees (XGBoost ``hist``) behind the Classifier contract.

``BDT`` trains with ``xgboost.train`` on a ``DMatrix`` with per-event weights: binary problems
use ``binary:logistic``, more classes ``multi:softprob``. Early stopping: pass
``eval_set=(X_val, y_val[, w_val])`` to ``fit``; training stops after ``early_stopping_rounds``
rounds without improvement of the validation loss and the booster keeps only the trees up to
the best round (so saved files and ONNX graphs hold exactly what ``predict_proba`` uses).
Per-round losses are in ``evals_result_``; ``feature_importances_`` is the total gain per
feature, normalised to sum 1.

Missing values: NaN in a feature is a missing value, which XGBoost routes down the default
branch it learned for each split (``predict_proba``, saved models and the ONNX graph agree on
inputs with NaN). ``missing=-999.0`` (any finite number) marks a sentinel as missing too: it is
mapped to NaN before training and prediction, and the ONNX graph maps it the same way. Inf is
refused.

Class imbalance: ``class_weight="balanced"`` (or a dict) and, for binary problems,
``scale_pos_weight``. XGBoost refuses negative weights: use ``negative_weights="abs"`` or
``"drop"`` with signed MC weights. Files: the booster's own JSON (``booster.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, ModelError
from hepsift.models.base import Classifier, payload_path

__all__ = ["BDT", "BoosterModel", "sentinel_to_nan", "xgb_params"]

_BOOSTER_FILE = "booster.json"


def xgb_params(model: Any) -> dict[str, Any]:
    """The ``xgboost.train`` parameters common to the classifier and the regressor."""
    params: dict[str, Any] = {
        "tree_method": "hist",
        "max_depth": int(model.max_depth),
        "eta": float(model.learning_rate),
        "subsample": float(model.subsample),
        "colsample_bytree": float(model.colsample_bytree),
        "min_child_weight": float(model.min_child_weight),
        "lambda": float(model.reg_lambda),
        "alpha": float(model.reg_alpha),
        "gamma": float(model.gamma),
        "max_bin": int(model.max_bin),
        "seed": int(model.seed),
        "verbosity": 0,
    }
    if model.n_jobs is not None:
        params["nthread"] = int(model.n_jobs)
    return params


def check_xgb_weights(w: NDArray[np.float64], where: str) -> None:
    if np.any(w < 0):
        raise ModelError(
            f"{where}: XGBoost needs non-negative weights but {int(np.sum(w < 0))} are negative; "
            "set negative_weights='abs' or 'drop'"
        )


def train_booster(
    params: dict[str, Any],
    X: NDArray[np.float64],
    label: NDArray[Any],
    w: NDArray[np.float64],
    n_estimators: int,
    early_stopping_rounds: int | None,
    valid: tuple[NDArray[np.float64], NDArray[Any], NDArray[np.float64]] | None,
) -> tuple[Any, dict[str, Any], int]:
    """Train; return (booster cut at the best round, evals_result, best_iteration)."""
    import xgboost as xgb

    dtrain = xgb.DMatrix(X, label=label, weight=w, nthread=params.get("nthread", -1))
    evals = [(dtrain, "train")]
    if valid is not None:
        dvalid = xgb.DMatrix(valid[0], label=valid[1], weight=valid[2])
        evals.append((dvalid, "validation"))
    result: dict[str, Any] = {}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=int(n_estimators),
        evals=evals,
        evals_result=result,
        early_stopping_rounds=early_stopping_rounds if valid is not None else None,
        verbose_eval=False,
    )
    best = int(n_estimators) - 1
    if valid is not None and early_stopping_rounds is not None:
        best = int(booster.best_iteration)
        if best + 1 < booster.num_boosted_rounds():
            booster = booster[: best + 1]
    return booster, result, best


def gain_importance(booster: Any, n_features: int) -> NDArray[np.float64]:
    """Total gain per feature (features never split on get 0), normalised to sum 1."""
    scores = booster.get_score(importance_type="total_gain")
    out = np.zeros(n_features)
    for key, value in scores.items():
        idx = int(key[1:]) if key.startswith("f") and key[1:].isdigit() else None
        if idx is not None and idx < n_features:
            out[idx] = float(value)
    total = out.sum()
    return out / total if total > 0 else out


class BoosterModel:
    """What the XGBoost classifier and regressor share: the booster's importances, its file
    (``booster.json``, the booster's own JSON) and its ONNX conversion. A mixin placed before
    :class:`~hepsift.models.base.Classifier` / ``Regressor`` in the bases."""

    booster_: Any
    best_iteration_: int
    evals_result_: dict[str, Any]
    n_features_in_: int
    n_jobs: int | None

    @property
    def feature_importances_(self) -> NDArray[np.float64]:
        """Total gain per feature, normalised to sum 1."""
        return gain_importance(self.booster_, int(self.n_features_in_))

    def _get_state(self, directory: Path) -> dict[str, Any]:
        self.booster_.save_model(str(directory / _BOOSTER_FILE))
        return {"file": _BOOSTER_FILE, "best_iteration": int(self.best_iteration_)}

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        self.booster_ = load_booster(payload_path(directory, state.get("file", _BOOSTER_FILE)))
        if self.n_jobs is not None:
            self.booster_.set_param({"nthread": int(self.n_jobs)})
        self.best_iteration_ = int(state.get("best_iteration", -1))
        self.evals_result_ = {}

    def _booster_onnx_proto(self) -> Any:
        """The onnxmltools graph of the booster, input ``X`` float32 (n, d)."""
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        return onnxmltools.convert_xgboost(
            self.booster_,
            initial_types=[("X", FloatTensorType([None, int(self.n_features_in_)]))],
            target_opset=15,
        )


def sentinel_to_nan(X: NDArray[np.float64], missing: float | None) -> NDArray[np.float64]:
    """``X`` with the sentinel value ``missing`` replaced by NaN (``X`` itself when None)."""
    if missing is None:
        return X
    # compared in float32, as the ONNX graph compares (a float32 -999.9 is the sentinel too)
    return np.where(X.astype(np.float32) == np.float32(missing), np.nan, X)


def check_missing(missing: Any) -> float | None:
    """The ``missing`` hyperparameter checked: None or a finite number (one line otherwise)."""
    if missing is None:
        return None
    ok = isinstance(missing, int | float) and not isinstance(missing, bool)
    if not ok or not np.isfinite(missing):
        raise ConfigError(
            f"bdt: missing={missing!r} is not allowed; use a finite number marking missing "
            "values (e.g. -999.0) or None (NaN is always missing)"
        )
    return float(missing)


def prepend_missing(proto: Any, missing: float) -> Any:
    """``proto`` with ``X == missing -> NaN`` in front of its input ``X`` (float32)."""
    from onnx import TensorProto, helper

    graph = proto.graph
    prefix = "hepsift_missing_"
    inits = [
        helper.make_tensor(prefix + "value", TensorProto.FLOAT, [], [float(missing)]),
        helper.make_tensor(prefix + "nan", TensorProto.FLOAT, [], [float("nan")]),
    ]
    nodes = [
        helper.make_node("Equal", ["X", prefix + "value"], [prefix + "is"]),
        helper.make_node("Where", [prefix + "is", prefix + "nan", "X"], [prefix + "out"]),
    ]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == "X":
                node.input[i] = prefix + "out"
    old_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old_nodes)
    graph.initializer.extend(inits)
    if not any(op.domain in ("", "ai.onnx") for op in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("", 15))  # Equal, Where
    return proto


class BDT(BoosterModel, Classifier):
    """XGBoost boosted decision trees (see the module docstring)."""

    family: ClassVar[str] = "bdt"
    supports_eval_set: ClassVar[bool] = True
    seed_param: ClassVar[str | None] = "seed"
    allows_nan: ClassVar[bool] = True
    booster_: Any

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        gamma: float = 0.0,
        max_bin: int = 256,
        early_stopping_rounds: int | None = 20,
        scale_pos_weight: float = 1.0,
        class_weight: str | dict[Any, float] | None = None,
        negative_weights: str = "keep",
        n_jobs: int | None = None,
        seed: int = 0,
        missing: float | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.gamma = gamma
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.scale_pos_weight = scale_pos_weight
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.n_jobs = n_jobs
        self.seed = seed
        self.missing = missing

    def _params(self) -> dict[str, Any]:
        params = xgb_params(self)
        k = len(self.classes_)
        if k == 2:
            params.update(
                objective="binary:logistic",
                eval_metric="logloss",
                scale_pos_weight=float(self.scale_pos_weight),
            )
        else:
            if self.scale_pos_weight != 1.0:
                raise ModelError(
                    "scale_pos_weight applies to binary problems only; use class_weight for "
                    f"{k} classes"
                )
            params.update(objective="multi:softprob", num_class=k, eval_metric="mlogloss")
        return params

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        missing = check_missing(self.missing)
        X = sentinel_to_nan(X, missing)
        wt = self._training_weights(y, w)
        check_xgb_weights(wt, "bdt training weights")
        valid = None
        if fit_params.get("eval_set") is not None:
            valid = self._parse_eval_set(fit_params["eval_set"])
            valid = (
                sentinel_to_nan(valid[0], missing),
                valid[1],
                np.abs(valid[2])
                if self.negative_weights == "abs"
                else np.where(valid[2] < 0, 0.0, valid[2]),
            )
        booster, result, best = train_booster(
            self._params(), X, y, wt, self.n_estimators, self.early_stopping_rounds, valid
        )
        self.booster_ = booster
        self.evals_result_ = result
        self.best_iteration_ = best

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        X = sentinel_to_nan(X, check_missing(getattr(self, "missing", None)))
        p = np.asarray(self.booster_.inplace_predict(X), dtype=np.float64)
        if p.ndim == 1:
            return np.column_stack([1.0 - p, p])
        return p

    def _onnx_proto(self) -> Any:
        proto = self._booster_onnx_proto()
        missing = check_missing(getattr(self, "missing", None))
        return proto if missing is None else prepend_missing(proto, missing)


def load_booster(path: Path) -> Any:
    """An ``xgboost.Booster`` from its JSON file; ModelError when the file is not one."""
    import xgboost as xgb

    if not path.is_file():
        raise ModelError(f"saved BDT lacks its booster file '{path}'")
    raw = path.read_bytes()
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"'{path}' is not a valid XGBoost JSON model: {exc}") from None
    if not isinstance(doc, dict) or "learner" not in doc:
        raise ModelError(f"'{path}' is not a valid XGBoost JSON model (no 'learner' section)")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except (xgb.core.XGBoostError, UnicodeDecodeError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else "unreadable"
        raise ModelError(f"'{path}' is not a valid XGBoost JSON model: {first}") from None
    return booster
