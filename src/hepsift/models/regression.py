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
:func:`hepsift.models.load`. ONNX: input ``X`` float32 (n, d), output ``predictions`` float32,
(n,) for one target and (n, k) for k targets, as :meth:`predict`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ModelError
from hepsift.models._torch import TorchModel
from hepsift.models.base import Regressor
from hepsift.models.boosting import BoosterModel, check_xgb_weights, train_booster, xgb_params

__all__ = ["BDTRegressor", "MLPRegressor", "Regressor"]


class MLPRegressor(TorchModel, Regressor):
    """PyTorch MLP regression with weighted MSE (see the module docstring)."""

    family: ClassVar[str] = "mlp-regressor"

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
        from hepsift.models._torch import (
            eval_set_or_split,
            net_args,
            scaled32,
            scaler_from,
            train_net,
        )

        (X, y, w), valid = eval_set_or_split(
            self, kw.get("eval_set"), np.zeros(len(y), dtype=np.int64), (X, y, w)
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

        def scaled_y(t: NDArray[np.float64]) -> NDArray[np.float32]:
            return ((t - mean) / std).astype(np.float32)

        train_net(
            self,
            scaler,
            net_args(self, X.shape[1], self.n_outputs_, batch_norm=bool(self.batch_norm)),
            ((scaled32(scaler, X),), scaled_y(y), w),
            None
            if valid is None
            else ((scaled32(scaler, valid[0]),), scaled_y(valid[1]), valid[2]),
            loss="mse",
        )

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

    def _onnx_proto(self) -> Any:
        import torch

        from hepsift.models._torch import (
            apply_scaler_buffers,
            onnx_proto,
            register_scaler_buffers,
        )

        flat = int(self.n_outputs_) == 1
        net = self.net_

        class _Export(torch.nn.Module):
            y_mean: torch.Tensor
            y_std: torch.Tensor

            def __init__(self, model: MLPRegressor) -> None:
                super().__init__()
                self.net = net
                register_scaler_buffers(self, model.scaler_)
                self.register_buffer("y_mean", torch.tensor(model.y_mean_, dtype=torch.float32))
                self.register_buffer("y_std", torch.tensor(model.y_std_, dtype=torch.float32))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = self.net(apply_scaler_buffers(self, x))
                if flat:
                    return out.reshape(-1) * self.y_std[0] + self.y_mean[0]  # type: ignore[no-any-return]
                return out * self.y_std + self.y_mean  # type: ignore[no-any-return]

        self.net_.eval()
        example = (torch.zeros(2, int(self.n_features_in_)),)
        return onnx_proto(_Export(self).eval(), example, ["X"], output="predictions")

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

        load_torch_state(self, directory, state, what="regressor", read_extra=read_extra)


class BDTRegressor(BoosterModel, Regressor):
    """XGBoost regression (see the module docstring)."""

    family: ClassVar[str] = "bdt-regressor"
    supports_eval_set: ClassVar[bool] = True
    seed_param: ClassVar[str | None] = "seed"

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
        if self.n_outputs_ != 1:
            raise ModelError(f"bdt-regressor fits one target; y has {self.n_outputs_} columns")
        check_xgb_weights(w, "bdt-regressor training weights")
        valid = None if kw.get("eval_set") is None else self._parse_eval_set(kw["eval_set"])
        params = xgb_params(self)
        params.update(objective=str(self.objective))
        booster, result, best = train_booster(
            params, X, y, w, self.n_estimators, self.early_stopping_rounds, valid
        )
        self.booster_, self.evals_result_, self.best_iteration_ = booster, result, best

    def _predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.booster_.inplace_predict(X), dtype=np.float64)

    def _onnx_proto(self) -> Any:
        from hepsift.export import regression_output

        return regression_output(self._booster_onnx_proto(), flatten=True)
