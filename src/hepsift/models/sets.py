"""DeepSets (PyTorch): a permutation-invariant classifier of object sets, behind the contract.

After Zaheer et al. (2017, arXiv:1703.06114) and the energy-flow networks of Komiske, Metodiev
and Thaler (2019, arXiv:1810.05165). Each present object goes through the same network
``phi``; a masked, order-independent pooling (``pooling=``) sums them into one vector; the
network ``rho`` maps that vector, concatenated with the (optional) event-level features ``X``,
to the class logits::

    model = DeepSets(pooling="sum").fit(X, y, sample_weight=w, objects=(values, mask))
    model.predict_proba(X_test, objects=(values_test, mask_test))

``objects=(values, mask)``: float32 (n, slots, fields) and bool (n, slots), True where an object
is present (:class:`hepsift.features.objects.ObjectInputs`); ``X`` (n, d) may have zero
columns, and ``event_features=False`` ignores it (a pure set model inside a run whose other
models read the aggregated features). Absent slots are never read: their values are replaced by 0 before ``phi`` (so NaN or
garbage there changes nothing) and left out of the pooling. An event without objects pools to
the zero vector.

Pooling: ``sum``, ``mean`` (over present objects), ``max`` (per component over present
objects; 0 for an event without objects) and ``attention`` (softmax weights from a small
scoring network ``w^T tanh(V h)`` over the present objects, Ilse et al. 2018).

Preprocessing saved with the model: the object fields are standardised over the present objects
of the training events (|weight|-weighted, :class:`~hepsift.features.objects.ObjectScaler`;
type indicators ``is_*`` untouched), ``X`` by a :class:`~hepsift.features.scaling.Scaler`.
Training: the one loop (:func:`hepsift.train.torch_loop.train_module`): weighted BCE / CE,
AdamW, early stopping on ``eval_set=(X_val, y_val[, w_val])`` with ``eval_objects=`` or on an
internal ``validation_fraction`` split; ``negative_weights`` and ``class_weight`` as the other
families.

Files: ``weights.safetensors`` + ``model.json`` (network arguments, both scalers). ONNX: inputs
``X`` float32 [n, d], ``values`` float32 [n, slots, fields], ``mask`` bool [n, slots] (the slot
axis is dynamic too); output ``probabilities`` [n, classes].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from hepsift.errors import ConfigError, DataError, ModelError, suggest
from hepsift.features.objects import ObjectInputs, ObjectScaler, as_object_inputs
from hepsift.models._torch import (
    TorchModel,
    apply_scaler_buffers,
    fit_scaler,
    forward_chunks,
    load_torch_state,
    onnx_proto,
    register_scaler_buffers,
    save_torch_state,
    scaled32,
    seeded,
    split_validation,
    train_net,
)
from hepsift.models.base import Classifier
from hepsift.models.nets import make_activation

__all__ = ["POOLINGS", "DeepSets", "DeepSetsNet"]

POOLINGS = ("sum", "mean", "max", "attention")
_CHUNK = 2048  # events per forward pass at inference (activations stay in cache)
_NEG = -1e9  # "minus infinity" for masked max / attention (finite: ONNX- and NaN-safe)


def _mlp(n_in: int, widths: Sequence[int], activation: str, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = n_in
    for h in widths:
        layers += [nn.Linear(prev, int(h)), make_activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        prev = int(h)
    return nn.Sequential(*layers)


class DeepSetsNet(nn.Module):
    """``rho(concat(pool(phi(objects), mask), x))`` -> ``n_out`` logits.

    ``forward(x, values, mask)``: ``x`` (n, n_event), ``values`` (n, slots, n_fields) already
    standardised, ``mask`` bool (n, slots). ``phi`` is ``len(phi)`` Linear+activation layers
    (the last width is the latent size), ``rho`` hidden layers then a Linear to ``n_out``.
    """

    def __init__(
        self,
        n_fields: int,
        n_event: int = 0,
        phi: Sequence[int] = (64, 64),
        rho: Sequence[int] = (64,),
        n_out: int = 1,
        *,
        pooling: str = "sum",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(
                f"pooling '{pooling}' is not one of {list(POOLINGS)}{suggest(pooling, POOLINGS)}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {dropout}")
        phi_w = [int(h) for h in phi]
        rho_w = [int(h) for h in rho]
        if not phi_w or any(h < 1 for h in (*phi_w, *rho_w)):
            raise ConfigError(
                f"deepsets needs phi widths >= 1 (at least one layer) and rho widths >= 1; got "
                f"phi={list(phi)}, rho={list(rho)}"
            )
        self.pooling = pooling
        self.n_out = int(n_out)
        latent = phi_w[-1]
        self.phi = _mlp(int(n_fields), phi_w, activation, 0.0)
        self.score: nn.Module | None = None
        if pooling == "attention":
            self.score = nn.Sequential(nn.Linear(latent, latent), nn.Tanh(), nn.Linear(latent, 1))
        self.rho = _mlp(latent + int(n_event), rho_w, activation, float(dropout))
        self.out = nn.Linear(rho_w[-1] if rho_w else latent + int(n_event), int(n_out))

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked pooling of ``h`` (n, slots, latent) over the slots."""
        # h is finite (absent slots enter phi as zeros), so masking by products is exact;
        # the weighted sums are one batched product (n, 1, slots) @ (n, slots, latent)
        w = mask.to(h.dtype)
        if self.pooling == "max":
            top = (h + (w.unsqueeze(-1) - 1.0) * -_NEG).amax(dim=1)
            return top * (w.sum(dim=1, keepdim=True) > 0).to(h.dtype)
        if self.pooling == "mean":
            w = w / torch.clamp(w.sum(dim=1, keepdim=True), min=1.0)
        elif self.pooling == "attention":
            assert self.score is not None
            s = self.score(h).squeeze(-1) + (w - 1.0) * -_NEG
            w = torch.softmax(s, dim=1) * w
        return torch.bmm(w.unsqueeze(1), h).squeeze(1)

    def forward(self, x: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(torch.bool)
        values = torch.where(mask.unsqueeze(-1), values, torch.zeros_like(values))
        pooled = self.pool(self.phi(values), mask)
        out: torch.Tensor = self.out(self.rho(torch.cat([pooled, x], dim=1)))
        return out.squeeze(-1) if self.n_out == 1 else out


class DeepSets(TorchModel, Classifier):
    """DeepSets classifier of object sets plus optional event features (module docstring)."""

    family: ClassVar[str] = "deepsets"
    #: fit/predict take ``objects=(values, mask)``; eval_set takes ``eval_objects=``
    inputs: ClassVar[frozenset[str]] = frozenset({"table", "objects"})
    reports_epochs: ClassVar[bool] = True

    def __init__(
        self,
        *,
        pooling: str = "sum",
        phi: tuple[int, ...] = (64, 64),
        rho: tuple[int, ...] = (64,),
        event_features: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        epochs: int = 50,
        patience: int = 8,
        schedule: str = "plateau",
        scaling: str = "standard",
        clip_quantile: float | None = None,
        validation_fraction: float = 0.0,
        class_weight: str | dict[Any, float] | None = None,
        negative_weights: str = "keep",
        num_threads: int | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.pooling = pooling
        self.phi = phi
        self.rho = rho
        self.event_features = event_features
        self.activation = activation
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.schedule = schedule
        self.scaling = scaling
        self.clip_quantile = clip_quantile
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.num_threads = num_threads
        self.progress = progress
        self.seed = seed

    # -- inputs ----------------------------------------------------------------------------
    def _feature_array(self, X: ArrayLike, *, dtype: Any) -> Any:
        """``X`` may have zero columns (a pure set model): (n, 0) passes through."""
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 0 and X.shape[0] > 0:
            return np.zeros((X.shape[0], 0), dtype=dtype)
        return super()._feature_array(X, dtype=dtype)

    def _objects(self, objects: Any, n: int, what: str) -> ObjectInputs:
        if objects is None:
            raise ModelError(
                f"DeepSets.{what} needs objects=(values, mask): float32 (n, slots, fields) and "
                "bool (n, slots)"
            )
        obj = as_object_inputs(objects, where=f"DeepSets.{what} objects")
        if len(obj) != n:
            raise DataError(f"DeepSets.{what}: objects hold {len(obj)} events; X has {n}")
        fitted = getattr(self, "n_fields_in_", None)
        if fitted is not None and obj.n_fields != fitted:
            raise DataError(
                f"DeepSets.{what}: objects have {obj.n_fields} fields; the model was trained "
                f"on {fitted}"
            )
        if not np.all(np.isfinite(obj.values[obj.mask])):
            raise DataError(f"DeepSets.{what}: present objects hold NaN or inf values")
        return obj

    # -- network ---------------------------------------------------------------------------
    def _net_args(self) -> dict[str, Any]:
        k = len(self.classes_)
        return {
            "n_fields": int(self.n_fields_in_),
            "n_event": int(self.n_features_in_) if self.event_features else 0,
            "phi": [int(h) for h in self.phi],
            "rho": [int(h) for h in self.rho],
            "n_out": 1 if k == 2 else k,
            "pooling": str(self.pooling),
            "activation": str(self.activation),
            "dropout": float(self.dropout),
        }

    def _build_net(self, args: dict[str, Any]) -> DeepSetsNet:
        return seeded(
            int(self.seed),
            lambda: DeepSetsNet(
                int(args["n_fields"]),
                int(args["n_event"]),
                tuple(args["phi"]),
                tuple(args["rho"]),
                int(args["n_out"]),
                pooling=str(args["pooling"]),
                activation=str(args["activation"]),
                dropout=float(args["dropout"]),
            ),
        )

    # -- fit / predict ---------------------------------------------------------------------
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        objects: Any = None,
        eval_set: Any = None,
        eval_objects: Any = None,
        **fit_params: Any,
    ) -> DeepSets:
        """Train on event features ``X`` (n, d >= 0), labels ``y`` and ``objects=(values,
        mask)``; ``eval_set=(X_val, y_val[, w_val])`` with ``eval_objects`` drives early
        stopping. ``on_epoch=callback(epoch, history)`` is passed to the training loop."""
        return super().fit(  # type: ignore[return-value]
            X,
            y,
            sample_weight,
            objects=objects,
            eval_set=eval_set,
            eval_objects=eval_objects,
            **fit_params,
        )

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(
                f"pooling '{self.pooling}' is not one of {list(POOLINGS)}"
                f"{suggest(str(self.pooling), POOLINGS)}"
            )
        obj = self._objects(fit_params.get("objects"), len(y), "fit")
        self.n_fields_in_ = obj.n_fields
        self.object_fields_ = list(obj.fields)
        wt = self._training_weights(y, w)
        valid_parts: tuple[Any, ...] | None = None
        if fit_params.get("eval_set") is not None:
            Xv, yv, wv = self._parse_eval_set(fit_params["eval_set"])
            ov = self._objects(fit_params.get("eval_objects"), len(yv), "fit (eval_objects)")
            valid_parts = (Xv, ov, yv, self._training_weights(yv, wv))
        elif self.validation_fraction:
            tr, va = split_validation(len(y), y, float(self.validation_fraction), int(self.seed))
            valid_parts = (X[va], obj[va], y[va], wt[va])
            X, obj, y, wt = X[tr], obj[tr], y[tr], wt[tr]
        scaler = fit_scaler(self.scaling, self.clip_quantile, X, wt)
        self.object_scaler_ = ObjectScaler().fit(obj, np.abs(wt) if np.any(wt) else None)

        n_event = int(self._net_args()["n_event"])

        def inputs(Xa: NDArray[np.float64], oa: ObjectInputs) -> tuple[Any, ...]:
            values, mask = self.object_scaler_.transform(oa)
            return (scaled32(scaler, Xa)[:, :n_event], values, mask)

        train_net(
            self,
            scaler,
            self._net_args(),
            (inputs(X, obj), y, wt),
            None
            if valid_parts is None
            else (inputs(valid_parts[0], valid_parts[1]), valid_parts[2], valid_parts[3]),
            loss="bce" if len(self.classes_) == 2 else "ce",
            on_epoch=fit_params.get("on_epoch"),
        )

    def predict_proba(  # type: ignore[override]
        self, X: ArrayLike, objects: Any = None
    ) -> NDArray[np.float64]:
        """Class probabilities (n, classes) of events ``X`` with ``objects=(values, mask)``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        Xv = self._validate_X(X, reset=False)
        obj = self._objects(objects, Xv.shape[0], "predict_proba")
        module = _ExportDeepSets(self).eval()
        x32 = torch.from_numpy(np.ascontiguousarray(Xv, dtype=np.float32))
        v32 = torch.from_numpy(obj.values)
        m = torch.from_numpy(obj.mask)
        k = len(self.classes_)
        out = forward_chunks(
            lambda rows: module(x32[rows], v32[rows], m[rows]),
            x32.shape[0],
            _CHUNK,
            lambda: torch.zeros((0, k)),
        )
        return out.double().numpy()  # type: ignore[no-any-return]

    def predict(  # type: ignore[override]
        self, X: ArrayLike, objects: Any = None
    ) -> NDArray[Any]:
        proba = self.predict_proba(X, objects)
        return np.asarray(np.asarray(self.classes_)[np.argmax(proba, axis=1)])

    def decision_score(  # type: ignore[override]
        self, X: ArrayLike, objects: Any = None
    ) -> NDArray[np.float64]:
        """P(last class) (the ROC input of a binary problem)."""
        return self.predict_proba(X, objects)[:, -1]

    def score(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, *, objects: Any
    ) -> float:
        """Weighted accuracy."""
        pred = self.predict(X, objects)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return float(np.average(pred == np.asarray(y), weights=w))

    # -- files -----------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        return save_torch_state(
            self,
            directory,
            object_scaler=self.object_scaler_.to_dict(),
            object_fields=list(self.object_fields_),
        )

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        def read_extra(st: dict[str, Any]) -> None:
            self.object_scaler_ = ObjectScaler.from_dict(st["object_scaler"])
            self.object_fields_ = [str(f) for f in st["object_fields"]]
            self.n_fields_in_ = len(self.object_fields_)
            assert self.object_scaler_.mean_ is not None
            if self.object_scaler_.mean_.size != self.n_fields_in_:
                raise ValueError("object scaler and object fields differ in length")

        load_torch_state(
            self,
            directory,
            state,
            what="DeepSets",
            read_extra=read_extra,
            errors=(KeyError, TypeError, ValueError, DataError),
        )
        if int(self.net_args_["n_fields"]) != self.n_fields_in_:
            raise ModelError("saved DeepSets network and object fields differ in width")

    # -- ONNX ------------------------------------------------------------------------------
    def _onnx_proto(self) -> Any:
        n_fields = int(self.n_fields_in_)
        example = (
            torch.zeros(2, int(self.n_features_in_)),
            torch.zeros(2, 3, n_fields),
            torch.tensor([[True, True, False], [True, False, False]]),
        )
        return onnx_proto(
            _ExportDeepSets(self).eval(),
            example,
            ["X", "values", "mask"],
            extra_axes={"values": {1: "slots"}, "mask": {1: "slots"}},
        )


class _ExportDeepSets(nn.Module):
    """Both scalers + network + sigmoid/softmax: the one inference path (predict and ONNX)."""

    lo: torch.Tensor
    hi: torch.Tensor
    center: torch.Tensor
    scale: torch.Tensor
    obj_mean: torch.Tensor
    obj_scale: torch.Tensor

    def __init__(self, model: DeepSets) -> None:
        super().__init__()
        self.net = model.net_
        self.n_out = int(model.net_.n_out)
        self.n_event = int(model.net_args_["n_event"])
        register_scaler_buffers(self, model.scaler_)
        sc = model.object_scaler_
        assert sc.mean_ is not None and sc.scale_ is not None
        self.register_buffer("obj_mean", torch.tensor(sc.mean_, dtype=torch.float32))
        self.register_buffer("obj_scale", torch.tensor(sc.scale_, dtype=torch.float32))

    def forward(self, x: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = apply_scaler_buffers(self, x)[:, : self.n_event]
        v = (values - self.obj_mean) / self.obj_scale
        out = self.net(z, v, mask)
        if self.n_out == 1:
            p = torch.sigmoid(out).reshape(-1, 1)
            return torch.cat([1.0 - p, p], dim=1)
        return torch.softmax(out, dim=1)
