"""Multi-layer perceptron (PyTorch) behind the Classifier contract.

From shallow (``hidden=(64,)``) to deep (``hidden=(64, 64, 64)``), ReLU/SiLU/tanh/GELU,
dropout, weight decay, optional batch norm. Inputs are scaled by a
:class:`hepsift.features.scaling.Scaler` (``scaling="standard"|"robust"|"none"``, optional
``clip_quantile``) fit on the training events with their weights, and saved with the model.
Training uses :func:`hepsift.train.torch_loop.train_module` (weighted BCE for two classes,
weighted cross-entropy for more, AdamW, early stopping on ``eval_set=(X_val, y_val[, w_val])``
or on an internal ``validation_fraction`` split, LR schedule); ``history_`` holds the per-epoch
record. ``fit(..., on_epoch=callback)`` is passed to the loop (Optuna pruning uses it).
The fit is deterministic for a ``seed`` on CPU and leaves torch's global RNG untouched.

Files: the ``state_dict`` as ``weights.safetensors`` plus the scaler and the network's primitive
constructor arguments in ``model.json``. ONNX: the scaler (clip, centre, scale) as ONNX ops in
front of the network, softmax/sigmoid at the end; output ``probabilities`` (n, n_classes).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, ModelError
from hepsift.models.base import Classifier
from hepsift.train.weights import (
    check_negative_policy,
    restore_class_weight,
    training_weights,
)

__all__ = ["MLP", "ScaledNet", "load_state_dict", "save_state_dict"]

_WEIGHTS_FILE = "weights.safetensors"
_CHUNK = 4096  # events per forward pass at inference


def save_state_dict(module: Any, path: Path) -> None:
    """Write a module's ``state_dict`` as safetensors (contiguous CPU tensors)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def load_state_dict(module: Any, path: Path) -> None:
    """Load a safetensors ``state_dict`` into ``module`` (strict); ModelError when unusable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelError(f"saved model lacks its weights file '{path}'")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"'{path}' is not a valid safetensors file: {exc}") from None
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"weights in '{path}' do not fit the network: {first}") from None


def _scaler_from(kind: str, clip_quantile: float | None) -> Any:
    from hepsift.features.scaling import Scaler

    return Scaler(kind, clip_quantile=clip_quantile)  # type: ignore[arg-type]


def split_validation(
    n: int, y: NDArray[Any], fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stratified (train, validation) index split for an internal early-stopping set."""
    from hepsift.dataset import split_indices

    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in (0, 1) or 0; got {fraction}")
    train, valid = split_indices(n, (1.0 - fraction, fraction), seed=seed, y=y)
    return train, valid


class ScaledNet:
    """Torch module factory: scaler ops + network + output activation (for ONNX export)."""

    @staticmethod
    def build(scaler: Any, net: Any, n_classes: int) -> Any:
        import torch

        class _Export(torch.nn.Module):
            lo: torch.Tensor
            hi: torch.Tensor
            center: torch.Tensor
            scale: torch.Tensor

            def __init__(self) -> None:
                super().__init__()
                self.net = net
                lo = np.where(np.isfinite(scaler.lo_), scaler.lo_, np.finfo(np.float32).min)
                hi = np.where(np.isfinite(scaler.hi_), scaler.hi_, np.finfo(np.float32).max)
                self.clip = bool(np.any(np.isfinite(scaler.lo_)) or np.any(np.isfinite(scaler.hi_)))
                self.register_buffer("lo", torch.tensor(lo, dtype=torch.float32))
                self.register_buffer("hi", torch.tensor(hi, dtype=torch.float32))
                self.register_buffer("center", torch.tensor(scaler.center_, dtype=torch.float32))
                self.register_buffer("scale", torch.tensor(scaler.scale_, dtype=torch.float32))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if self.clip:
                    x = torch.minimum(torch.maximum(x, self.lo), self.hi)
                z = (x - self.center) / self.scale
                out = self.net(z)
                if n_classes == 2:
                    p = torch.sigmoid(out).reshape(-1, 1)
                    return torch.cat([1.0 - p, p], dim=1)
                return torch.softmax(out, dim=1)

        return _Export().eval()


class MLP(Classifier):
    """PyTorch multi-layer perceptron (see the module docstring)."""

    family: ClassVar[str] = "mlp"
    onnx_supported: ClassVar[bool] = True
    net_: Any
    scaler_: Any

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
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.num_threads = num_threads
        self.progress = progress
        self.seed = seed

    @classmethod
    def _from_params(cls, params: dict[str, Any], meta: dict[str, Any]) -> Classifier:
        valid = cls._get_param_names()
        full = restore_class_weight(params, meta)
        return cls(**{k: v for k, v in full.items() if k in valid})

    # -- network ---------------------------------------------------------------------------
    def _net_args(self) -> dict[str, Any]:
        k = len(self.classes_)
        return {
            "n_in": int(self.n_features_in_),
            "hidden": [int(h) for h in self.hidden],
            "n_out": 1 if k == 2 else k,
            "activation": str(self.activation),
            "dropout": float(self.dropout),
            "batch_norm": bool(self.batch_norm),
        }

    def _build_net(self, args: dict[str, Any]) -> Any:
        import torch

        from hepsift.models.nets import MLPNet

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            return MLPNet(
                args["n_in"],
                tuple(args["hidden"]),
                args["n_out"],
                activation=args["activation"],
                dropout=args["dropout"],
                batch_norm=args["batch_norm"],
            )

    # -- fit / predict ---------------------------------------------------------------------
    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        from hepsift.train.torch_loop import train_module

        check_negative_policy(self.negative_weights)
        unknown = set(fit_params) - {"eval_set", "on_epoch"}
        if unknown:
            raise ModelError(
                f"MLP.fit got unknown arguments {sorted(unknown)} (allowed: eval_set, on_epoch)"
            )
        wt = training_weights(
            y,
            w,
            negative=self.negative_weights,
            class_weight=self.class_weight,
            classes=self.classes_,
        )
        valid: tuple[Any, Any, Any] | None = None
        if fit_params.get("eval_set") is not None:
            from hepsift.models.boosting import parse_eval_set

            Xv, yv, wv = parse_eval_set(fit_params["eval_set"], X.shape[1], self._encode)
            valid = (Xv, yv, wv)
        elif self.validation_fraction:
            tr, va = split_validation(len(y), y, float(self.validation_fraction), int(self.seed))
            valid = (X[va], y[va], wt[va])
            X, y, wt = X[tr], y[tr], wt[tr]
        scaler = _scaler_from(self.scaling, self.clip_quantile)
        scaler.fit(X, sample_weight=np.abs(wt) if np.any(wt) else None)
        self.scaler_ = scaler
        args = self._net_args()
        net = self._build_net(args)
        k = len(self.classes_)
        validation = None
        if valid is not None:
            validation = (
                (scaler.transform(valid[0]).astype(np.float32),),
                valid[1],
                valid[2],
            )
        self.history_ = train_module(
            net,
            (scaler.transform(X).astype(np.float32),),
            y,
            wt,
            loss="bce" if k == 2 else "ce",
            validation=validation,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            patience=int(self.patience),
            schedule=self.schedule,  # type: ignore[arg-type]
            seed=int(self.seed),
            progress=bool(self.progress),
            num_threads=self.num_threads,
            on_epoch=fit_params.get("on_epoch"),
        )
        self.net_ = net
        self.net_args_ = args

    def _encode(self, y: NDArray[Any]) -> NDArray[np.int64]:
        classes = np.asarray(self.classes_)
        idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        if not np.all(classes[idx] == y):
            raise DataError(
                f"eval_set y holds labels not seen in training (classes {list(classes)})"
            )
        return idx.astype(np.int64)

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        import torch

        sc = self.scaler_
        X32 = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        clip = bool(np.any(np.isfinite(sc.lo_)) or np.any(np.isfinite(sc.hi_)))
        lo = torch.tensor(sc.lo_, dtype=torch.float32)
        hi = torch.tensor(sc.hi_, dtype=torch.float32)
        center = torch.tensor(sc.center_, dtype=torch.float32)
        scale = torch.tensor(sc.scale_, dtype=torch.float32)
        self.net_.eval()
        outs = []
        with torch.inference_mode():
            # the scaler's affine form applied per chunk in float32 (as the ONNX graph does);
            # chunks of 4096 events keep the activations in cache: ~1.5x faster than 65536
            for start in range(0, X32.shape[0], _CHUNK):
                x = X32[start : start + _CHUNK]
                if clip:
                    x = torch.clamp(x, lo, hi)
                outs.append(self.net_((x - center) / scale))
        out = (
            torch.cat(outs)
            if outs
            else torch.zeros((0,) if len(self.classes_) == 2 else (0, len(self.classes_)))
        )
        if len(self.classes_) == 2:
            p = torch.sigmoid(out).double().numpy()
            return np.column_stack([1.0 - p, p])
        return torch.softmax(out, dim=1).double().numpy()  # type: ignore[no-any-return]

    # -- files -----------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        save_state_dict(self.net_, directory / _WEIGHTS_FILE)
        history = getattr(self, "history_", None)
        return {
            "file": _WEIGHTS_FILE,
            "net": self.net_args_,
            "scaler": self.scaler_.to_dict(),
            "history": history.to_dict() if history is not None else None,
        }

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from hepsift.features.scaling import Scaler
        from hepsift.train.torch_loop import History

        try:
            args = dict(state["net"])
            self.scaler_ = Scaler.from_dict(state["scaler"])
        except (KeyError, TypeError) as exc:
            raise ModelError(f"saved MLP state in '{directory}' is incomplete: {exc}") from None
        net = self._build_net(args)
        load_state_dict(net, directory / str(state.get("file", _WEIGHTS_FILE)))
        net.eval()
        self.net_ = net
        self.net_args_ = args
        if state.get("history"):
            self.history_ = History.from_dict(state["history"])

    def to_onnx(self, path: str | os.PathLike[str]) -> Path:
        from hepsift.export import export_onnx

        return export_onnx(self, path)

    def _onnx_proto(self) -> Any:
        return torch_onnx_proto(
            ScaledNet.build(self.scaler_, self.net_, len(self.classes_)), int(self.n_features_in_)
        )


def torch_onnx_proto(module: Any, n_features: int) -> Any:
    """Export ``module(X) -> probabilities`` with a dynamic batch axis; return the ModelProto."""
    import io

    import onnx
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of the dynamo one, which needs the
        # onnxscript package; the TorchScript one is exact for these plain feed-forward nets
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            module,
            (torch.zeros(2, n_features),),
            buf,  # type: ignore[arg-type]
            dynamo=False,
            input_names=["X"],
            output_names=["probabilities"],
            dynamic_axes={"X": {0: "n"}, "probabilities": {0: "n"}},
            opset_version=17,
        )
    return onnx.load_from_string(buf.getvalue())
