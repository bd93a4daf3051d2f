"""Regressors with the same API as the classifiers: fit / predict / save / load.

For example the true photon energy (GeV) from reconstructed quantities. Two families:

- ``mlp-regressor`` (:class:`MLPRegressor`): the torch MLP of :mod:`hepsift.models.nets`
  trained by :func:`hepsift.train.torch_loop.train_module` with a weighted MSE; inputs scaled by
  a saved :class:`~hepsift.features.scaling.Scaler`, targets standardised (weighted mean / std)
  during training so that values in GeV train as well as values of order one. Targets may be
  (n,) or (n, k).
- ``bdt-regressor`` (:class:`BDTRegressor`): XGBoost ``hist`` with ``reg:squarederror`` (or
  another XGBoost regression ``objective``), early stopping on ``eval_set``; 1-D targets.

Saved as the classifiers are (``model.json`` + safetensors / XGBoost JSON), read back by
:func:`hepsift.models.load`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin

from hepsift.errors import DataError, ModelError
from hepsift.models.base import MODEL_FORMAT, _jsonable, write_model_dir

__all__ = ["BDTRegressor", "MLPRegressor", "Regressor"]

META_FILE = "model.json"


class Regressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Base class of hepsift regressors: validation and file handling (like Classifier)."""

    family: ClassVar[str] = ""
    n_outputs_: int

    def _fit(
        self, X: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], **kw: Any
    ) -> None:
        raise NotImplementedError

    def _predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _get_state(self, directory: Path) -> dict[str, Any]:
        raise NotImplementedError

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _validate_X(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_array

        arr = check_array(X, dtype=np.float64, ensure_all_finite=True, ensure_2d=True)
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return np.asarray(arr, dtype=np.float64)

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **fit_params: Any
    ) -> Regressor:
        Xv = self._validate_X(X, reset=True)
        yv = np.asarray(y, dtype=np.float64)
        if yv.ndim not in (1, 2) or yv.shape[0] != Xv.shape[0]:
            raise ValueError(
                f"y has shape {yv.shape}; expected ({Xv.shape[0]},) or ({Xv.shape[0]}, k)"
            )
        if not np.all(np.isfinite(yv)):
            raise DataError("regression target y contains NaN or inf")
        if sample_weight is None:
            w = np.ones(Xv.shape[0])
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (Xv.shape[0],):
                raise ValueError(f"sample_weight.shape == {w.shape}, expected ({Xv.shape[0]},)")
            if not np.all(np.isfinite(w)):
                raise DataError("sample_weight contains NaN or inf")
        self.n_outputs_ = 1 if yv.ndim == 1 else int(yv.shape[1])
        self._fit(Xv, yv, w, **fit_params)
        return self

    def _eval_set(
        self, kw: dict[str, Any]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
        """``(X_val, y_val, w_val)`` from ``kw["eval_set"]`` (weights 1 when left out), or None."""
        es = kw.get("eval_set")
        if es is None:
            return None
        Xv = self._validate_X(es[0], reset=False)
        yv = np.asarray(es[1], dtype=np.float64)
        wv = np.ones(len(yv)) if len(es) < 3 or es[2] is None else np.asarray(es[2], float)
        return Xv, yv, wv

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_outputs_")
        return self._predict(self._validate_X(X, reset=False))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted regressor to the directory ``path`` atomically."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_outputs_")

        def make_meta(tmp: Path) -> dict[str, Any]:
            return {
                "format": MODEL_FORMAT,
                "family": self.family,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": _jsonable(self.get_params(deep=False)),
                "classes": [],
                "n_features_in": int(self.n_features_in_),
                "n_outputs": int(self.n_outputs_),
                "state": _jsonable(self._get_state(tmp)),
            }

        return write_model_dir(path, make_meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a saved model (any family) back; see :func:`hepsift.models.load`."""
        from hepsift.models.base import Classifier

        return Classifier.load(path)

    @classmethod
    def _from_params(cls, params: dict[str, Any], meta: dict[str, Any]) -> Regressor:
        valid = cls._get_param_names()
        model = cls(**{k: v for k, v in params.items() if k in valid})
        model.n_outputs_ = int(meta.get("n_outputs", 1))
        return model

    def _restore(self) -> None:
        # Classifier.load sets classes_ on every model it reads; a regressor has none
        self.__dict__.pop("classes_", None)


class MLPRegressor(Regressor):
    """PyTorch MLP regression with weighted MSE (see the module docstring)."""

    family: ClassVar[str] = "mlp-regressor"
    requires_extra: ClassVar[str] = "torch"  # hepsift.extras: checked by models.model_class

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        epochs: int = 100,
        patience: int = 10,
        schedule: str = "plateau",
        scaling: str = "standard",
        clip_quantile: float | None = None,
        target_scaling: bool = True,
        validation_fraction: float = 0.0,
        num_threads: int | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.schedule = schedule
        self.scaling = scaling
        self.clip_quantile = clip_quantile
        self.target_scaling = target_scaling
        self.validation_fraction = validation_fraction
        self.num_threads = num_threads
        self.progress = progress
        self.seed = seed

    def _build_net(self, args: dict[str, Any]) -> Any:
        from hepsift.models._torch import build_mlp_net

        return build_mlp_net(args, int(self.seed))

    def _fit(
        self, X: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], **kw: Any
    ) -> None:
        from hepsift.models._torch import scaler_from, split_off_validation, train_options
        from hepsift.train.torch_loop import train_module

        unknown = set(kw) - {"eval_set"}
        if unknown:
            raise ModelError(f"fit got unknown arguments {sorted(unknown)} (allowed: eval_set)")
        valid: tuple[Any, ...] | None = self._eval_set(kw)
        if valid is None and self.validation_fraction:
            (X, y, w), valid = split_off_validation(
                np.zeros(len(y), dtype=np.int64), self.validation_fraction, self.seed, (X, y, w)
            )
        aw = np.abs(w)
        mean: NDArray[np.float64]
        std: NDArray[np.float64]
        if self.target_scaling:
            mean = np.asarray(np.average(y, axis=0, weights=aw), dtype=np.float64)
            std = np.sqrt(np.asarray(np.average((y - mean) ** 2, axis=0, weights=aw)))
            std = np.where(std > 0, std, 1.0)
        else:
            mean = np.zeros(y.shape[1:], dtype=np.float64)
            std = np.ones(y.shape[1:], dtype=np.float64)
        self.y_mean_ = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.y_std_ = np.atleast_1d(np.asarray(std, dtype=np.float64))
        scaler = scaler_from(self.scaling, self.clip_quantile).fit(X, sample_weight=aw)
        self.scaler_ = scaler
        args = {
            "n_in": int(X.shape[1]),
            "hidden": [int(h) for h in self.hidden],
            "n_out": int(self.n_outputs_),
            "activation": str(self.activation),
            "dropout": float(self.dropout),
            "batch_norm": bool(self.batch_norm),
        }
        net = self._build_net(args)

        def scaled_y(t: NDArray[np.float64]) -> NDArray[np.float32]:
            return ((t - mean) / std).astype(np.float32)

        validation = None
        if valid is not None:
            validation = (
                (scaler.transform(valid[0]).astype(np.float32),),
                scaled_y(valid[1]),
                valid[2],
            )
        self.history_ = train_module(
            net,
            (scaler.transform(X).astype(np.float32),),
            scaled_y(y),
            w,
            loss="mse",
            validation=validation,
            **train_options(self),
        )
        self.net_ = net
        self.net_args_ = args

    def _predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        import torch

        from hepsift.models._torch import forward_chunks

        Z = torch.from_numpy(np.ascontiguousarray(self.scaler_.transform(X), dtype=np.float32))
        self.net_.eval()
        out = (
            forward_chunks(lambda rows: self.net_(Z[rows]), Z.shape[0], 4096, lambda: self.net_(Z))
            .double()
            .numpy()
        )
        if self.n_outputs_ == 1:
            return np.asarray(out.reshape(-1) * self.y_std_[0] + self.y_mean_[0])
        return np.asarray(out * self.y_std_ + self.y_mean_)

    def _get_state(self, directory: Path) -> dict[str, Any]:
        from hepsift.models._torch import save_torch_state

        return save_torch_state(
            self, directory, y_mean=self.y_mean_.tolist(), y_std=self.y_std_.tolist()
        )

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from hepsift.models._torch import load_torch_state

        def read_extra(st: dict[str, Any]) -> None:
            self.y_mean_ = np.asarray(st["y_mean"], dtype=np.float64)
            self.y_std_ = np.asarray(st["y_std"], dtype=np.float64)

        self._restore()
        load_torch_state(self, directory, state, what="regressor", read_extra=read_extra)


class BDTRegressor(Regressor):
    """XGBoost regression (see the module docstring)."""

    family: ClassVar[str] = "bdt-regressor"

    def __init__(
        self,
        *,
        n_estimators: int = 300,
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
        objective: str = "reg:squarederror",
        n_jobs: int | None = None,
        seed: int = 0,
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
        self.objective = objective
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(
        self, X: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], **kw: Any
    ) -> None:
        from hepsift.models.boosting import check_xgb_weights, train_booster, xgb_params

        if self.n_outputs_ != 1:
            raise ModelError(f"bdt-regressor fits one target; y has {self.n_outputs_} columns")
        unknown = set(kw) - {"eval_set"}
        if unknown:
            raise ModelError(f"fit got unknown arguments {sorted(unknown)} (allowed: eval_set)")
        check_xgb_weights(w, "bdt-regressor training weights")
        valid = self._eval_set(kw)
        params = xgb_params(self)
        params.update(objective=str(self.objective))
        booster, result, best = train_booster(
            params, X, y, w, self.n_estimators, self.early_stopping_rounds, valid
        )
        self.booster_, self.evals_result_, self.best_iteration_ = booster, result, best

    def _predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.booster_.inplace_predict(X), dtype=np.float64)

    @property
    def feature_importances_(self) -> NDArray[np.float64]:
        from hepsift.models.boosting import gain_importance

        return gain_importance(self.booster_, int(self.n_features_in_))

    def _get_state(self, directory: Path) -> dict[str, Any]:
        self.booster_.save_model(str(directory / "booster.json"))
        return {"file": "booster.json", "best_iteration": int(self.best_iteration_)}

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from hepsift.models.boosting import load_booster

        self._restore()
        self.booster_ = load_booster(directory / str(state.get("file", "booster.json")))
        self.best_iteration_ = int(state.get("best_iteration", -1))
