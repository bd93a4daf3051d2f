"""Convolutional network on event images (PyTorch) behind the Classifier contract.

A ResNet-18-style network (:class:`hepsift.models.resnet.ResNetImage`: basic blocks
``blocks=(2, 2, 2, 2)``, base ``width``, a downsampling ``stem`` by default so that it trains on
a CPU) on images (n, C, H, W) with axis -2 = eta and axis -1 = phi. Every convolution and
pooling pads phi circularly and eta with zeros. Augmentation is on by default while training:
each image is flipped eta -> -eta with probability 1/2 (``flip_eta``) and rolled by a random
number of phi columns (``roll_phi``); ``augment=False`` turns both off.

Images are kept as given (float16 as stored: half the memory) and computed in float32. Each
channel is divided by a scale learned on the training images (the mean of its non-zero pixels)
and, with ``log_scale=True`` (default), compressed by ``log1p``; the scale is a buffer of the
network, so the saved model and the ONNX graph take raw images.

Normalisation ``norm="group"`` (default; ``"batch"`` is the original ResNet's): on the
multijet-bsm images batch norm's running statistics shifted the evaluation-mode scores (mean
0.48 -> 0.37), the validation loss rose while the validation AUC rose, and early stopping kept
the epoch-0 weights (test AUC 0.51). Group norm computes the same function in training and
evaluation but normalises each image's overall energy scale away, so ``channel_sums=True``
(default) joins the per-channel ``log1p`` of the summed pixels, standardised on the training
images, to the pooled features: the total ECAL / HCAL / track energies carry most of the
sphaleron vs black-hole separation (a BDT on those three numbers alone: AUC 0.85).

``X`` may have zero columns;
when it has some they are scaled (a :class:`~hepsift.features.scaling.Scaler` fit on the
training events) and joined to the pooled image features before the head.

::

    model = CNN(width=16).fit(X, y, sample_weight=w, images=img, eval_set=(Xv, yv, wv),
                              eval_images=img_v)
    model.predict_proba(X_test, images=img_test)

Training: :func:`hepsift.train.torch_loop.train_module` (weighted BCE for two classes,
cross-entropy for more, AdamW, early stopping on ``eval_set`` + ``eval_images`` or an internal
``validation_fraction`` split, LR schedule), weights through the ``negative_weights`` policy
(default ``abs``) and ``class_weight``. Files: ``weights.safetensors`` + ``model.json`` (the
network's primitive arguments, the scaler, the image shape). ONNX: inputs ``X`` float32 (n, d)
and ``images`` float32 (n, C, H, W), output ``probabilities`` (n, classes).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import DataError, ModelError
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
    split_off_validation,
    train_options,
)
from hepsift.models.base import Classifier

__all__ = ["CNN", "channel_scale", "image_array"]

#: images per forward pass at inference and validation (bounds the activations' memory)
_CHUNK = 256
_MAX_SIDE = 4096


def image_array(images: Any, n: int, what: str) -> NDArray[np.floating[Any]]:
    """``images`` checked: (n, C, H, W), finite; float16 kept as it is, anything else float32."""
    if images is None:
        raise ModelError(f"CNN.{what} needs images= (an array (n, C, H, W): eta, phi last)")
    arr = np.asarray(images)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"CNN.{what}: images must be numbers; got dtype {arr.dtype}")
    if arr.dtype != np.float16:
        arr = arr.astype(np.float32, copy=False)
    if arr.ndim != 4 or arr.shape[0] != n or min(arr.shape[1:], default=0) < 1:
        raise DataError(
            f"CNN.{what}: images have shape {arr.shape}; expected ({n}, C, H, W) with one "
            "image per event (axis -2 eta, axis -1 phi)"
        )
    if max(arr.shape[1:]) > _MAX_SIDE:
        raise DataError(f"CNN.{what}: images of shape {arr.shape[1:]} are too large")
    for start in range(0, n, 4096):
        if not np.isfinite(arr[start : start + 4096]).all():
            raise DataError(f"CNN.{what}: images contain NaN or inf")
    return arr


def channel_scale(images: NDArray[Any], weight: NDArray[np.float64] | None = None) -> NDArray[Any]:
    """Per channel: the mean of the non-zero pixel magnitudes (1 for an all-zero channel),
    accumulated in float64 over chunks (float16 images are not copied whole)."""
    c = images.shape[1]
    total = np.zeros(c)
    count = np.zeros(c)
    for start in range(0, images.shape[0], 1024):
        part = np.abs(images[start : start + 1024].astype(np.float64))
        total += part.sum(axis=(0, 2, 3))
        count += (part > 0).sum(axis=(0, 2, 3))
    scale = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    return np.asarray(np.where(scale > 0, scale, 1.0), dtype=np.float32)


def _log_sum_stats(net: Any, images: NDArray[Any]) -> tuple[Any, Any]:
    """Mean and standard deviation (floored at 1e-3) of the network's log channel sums over
    the training images, computed in chunks."""
    import torch

    with torch.no_grad():
        sums = torch.cat(
            [
                net.log_sums(torch.from_numpy(np.ascontiguousarray(images[s : s + _CHUNK])))
                for s in range(0, images.shape[0], _CHUNK)
            ]
        )
    return sums.mean(dim=0), sums.std(dim=0, unbiased=False).clamp(min=1e-3)


class CNN(TorchModel, Classifier):
    """ResNet-style CNN on event images (see the module docstring)."""

    family: ClassVar[str] = "cnn"
    inputs: ClassVar[frozenset[str]] = frozenset({"table", "images"})
    reports_epochs: ClassVar[bool] = True

    def __init__(
        self,
        *,
        width: int = 16,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        stem: str = "downsample",
        head: int = 64,
        dropout: float = 0.0,
        log_scale: bool = True,
        norm: str = "group",
        channel_sums: bool = True,
        augment: bool = True,
        flip_eta: bool = True,
        roll_phi: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        epochs: int = 30,
        patience: int = 5,
        schedule: str = "plateau",
        scaling: str = "standard",
        clip_quantile: float | None = None,
        validation_fraction: float = 0.0,
        class_weight: str | dict[Any, float] | None = None,
        negative_weights: str = "abs",
        num_threads: int | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.width = width
        self.blocks = blocks
        self.stem = stem
        self.head = head
        self.dropout = dropout
        self.log_scale = log_scale
        self.norm = norm
        self.channel_sums = channel_sums
        self.augment = augment
        self.flip_eta = flip_eta
        self.roll_phi = roll_phi
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
        """``X`` may have zero columns (images only)."""
        shape = np.shape(X)
        if len(shape) == 2 and shape[1] == 0:
            return np.zeros((shape[0], 0), dtype=dtype)
        return super()._feature_array(X, dtype=dtype)

    def _check_images(self, images: NDArray[Any], what: str) -> None:
        if tuple(images.shape[1:]) != tuple(self.image_shape_):
            raise DataError(
                f"CNN.{what}: images have shape {tuple(images.shape[1:])} per event; the model "
                f"was trained on {tuple(self.image_shape_)}"
            )

    # -- network ---------------------------------------------------------------------------
    def _net_args(self, channels: int, n_out: int) -> dict[str, Any]:
        return {
            "channels": int(channels),
            "n_out": int(n_out),
            "n_table": int(self.n_features_in_),
            "width": int(self.width),
            "blocks": [int(b) for b in self.blocks],
            "stem": str(self.stem),
            "head": int(self.head),
            "dropout": float(self.dropout),
            "log_scale": bool(self.log_scale),
            "norm": str(self.norm),
            "channel_sums": bool(self.channel_sums),
            "augment": bool(self.augment),
            "flip_eta": bool(self.flip_eta),
            "roll_phi": bool(self.roll_phi),
        }

    def _build_net(self, args: dict[str, Any]) -> Any:
        from hepsift.models.resnet import ResNetImage

        kwargs = {k: v for k, v in args.items() if k != "channels"}
        kwargs["blocks"] = tuple(kwargs["blocks"])
        # models saved before these options existed: batch norm, no channel sums
        kwargs.setdefault("norm", "batch")
        kwargs.setdefault("channel_sums", False)
        return seeded(int(self.seed), lambda: ResNetImage(int(args["channels"]), **kwargs))

    # -- fit / predict ---------------------------------------------------------------------
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        images: ArrayLike | None = None,
        eval_set: Any = None,
        eval_images: ArrayLike | None = None,
        **fit_params: Any,
    ) -> CNN:
        """Train on features ``X`` (n, d; d may be 0), labels ``y`` and ``images`` (n, C, H, W).

        ``eval_set=(X_val, y_val[, w_val])`` with ``eval_images`` drives early stopping;
        ``on_epoch=callback(epoch, history)`` is passed to the training loop."""
        self._check_fit_keywords(fit_params)
        if images is None:
            image_array(None, 0, "fit")
        return super().fit(  # type: ignore[return-value]
            X,
            y,
            sample_weight,
            images=images,
            eval_set=eval_set,
            eval_images=eval_images,
            **fit_params,
        )

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        import torch

        from hepsift.train.torch_loop import train_module

        img = image_array(fit_params.get("images"), len(y), "fit")
        wt = self._training_weights(y, w)
        valid: tuple[Any, ...] | None = None
        if fit_params.get("eval_set") is not None:
            Xv, yv, wv = self._parse_eval_set(fit_params["eval_set"])
            imv = image_array(fit_params.get("eval_images"), len(yv), "fit (eval_images)")
            valid = (Xv, yv, self._training_weights(yv, wv), imv)
        elif self.validation_fraction:
            (X, y, wt, img), valid = split_off_validation(
                y, self.validation_fraction, self.seed, (X, y, wt, img)
            )
        self.image_shape_ = tuple(int(s) for s in img.shape[1:])
        k = len(self.classes_)
        scaler = fit_scaler(self.scaling, self.clip_quantile, X, wt)
        args = self._net_args(img.shape[1], 1 if k == 2 else k)
        net = self._build_net(args)
        net.scale.copy_(torch.from_numpy(channel_scale(img)))
        if self.channel_sums:
            center, spread = _log_sum_stats(net, img)
            net.sum_center.copy_(center)
            net.sum_scale.copy_(spread)
        validation = None
        if valid is not None:
            self._check_images(valid[3], "fit (eval_images)")
            validation = (
                (torch.from_numpy(np.ascontiguousarray(valid[3])), scaled32(scaler, valid[0])),
                valid[1],
                valid[2],
            )
        self.scaler_ = scaler
        self.history_ = train_module(
            net,
            (torch.from_numpy(np.ascontiguousarray(img)), scaled32(scaler, X)),
            y,
            wt,
            loss="bce" if k == 2 else "ce",
            validation=validation,
            on_epoch=fit_params.get("on_epoch"),
            eval_batch_size=_CHUNK,
            **train_options(self),
        )
        self.net_ = net
        self.net_args_ = args

    def predict_proba(  # type: ignore[override]
        self, X: ArrayLike, images: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Class probabilities (n, classes) of events ``X`` with their ``images``."""
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        Xv = self._validate_X(X, reset=False)
        img = image_array(images, Xv.shape[0], "predict_proba")
        self._check_images(img, "predict_proba")
        Z = torch.from_numpy(scaled32(self.scaler_, Xv))
        I = torch.from_numpy(np.ascontiguousarray(img))  # noqa: E741
        k = len(self.classes_)
        self.net_.eval()
        out = forward_chunks(
            lambda rows: self.net_(I[rows], Z[rows]),
            Z.shape[0],
            _CHUNK,
            lambda: torch.zeros((0,) if k == 2 else (0, k)),
        )
        if k == 2:
            p = torch.sigmoid(out).double().numpy()
            return np.column_stack([1.0 - p, p])
        return np.asarray(torch.softmax(out, dim=1).double().numpy())

    def predict(  # type: ignore[override]
        self, X: ArrayLike, images: ArrayLike | None = None
    ) -> NDArray[Any]:
        proba = self.predict_proba(X, images)
        return np.asarray(np.asarray(self.classes_)[np.argmax(proba, axis=1)])

    def decision_score(  # type: ignore[override]
        self, X: ArrayLike, images: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """P(last class): the signal score of a binary problem."""
        return self.predict_proba(X, images)[:, -1]

    def score(  # type: ignore[override]
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        images: ArrayLike,
    ) -> float:
        """Weighted accuracy."""
        pred = self.predict(X, images)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return float(np.average(pred == np.asarray(y), weights=w))

    # -- files -----------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        return save_torch_state(self, directory, image_shape=list(self.image_shape_))

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        def read_extra(st: dict[str, Any]) -> None:
            shape = tuple(int(s) for s in st["image_shape"])
            if len(shape) != 3 or min(shape) < 1 or max(shape) > _MAX_SIDE:
                raise ValueError(f"image_shape {list(shape)} is not (C, H, W)")
            self.image_shape_ = shape

        load_torch_state(
            self,
            directory,
            state,
            what="CNN",
            read_extra=read_extra,
            errors=(KeyError, TypeError, ValueError),
        )

    def _probe(self) -> None:
        """After loading: one all-zero event and image give one finite row per class."""
        out = self.predict_proba(
            np.zeros((1, int(self.n_features_in_))),
            np.zeros((1, *self.image_shape_), dtype=np.float32),
        )
        if out.shape != (1, len(self.classes_)) or not np.all(np.isfinite(out)):
            raise ModelError(
                f"saved CNN gives outputs of shape {out.shape[1:]} (or NaN) per event but its "
                f"model.json declares {len(self.classes_)} classes"
            )

    # -- ONNX ------------------------------------------------------------------------------
    def _onnx_proto(self) -> Any:
        import torch

        example = (
            torch.zeros(2, int(self.n_features_in_)),
            torch.zeros(2, *self.image_shape_),
        )
        with warnings.catch_warnings():
            # the exporter notes it cannot fold the phi-wrap slices into constants (they are
            # slices of the input, computed at run time): harmless
            warnings.filterwarnings("ignore", message=".*Constant folding.*", category=UserWarning)
            # group norm's size check (more than one value per group) is a Python bool on
            # traced sizes; it does not enter the graph
            warnings.filterwarnings(
                "ignore", message=".*Converting a tensor to a Python boolean.*", module=r"torch\."
            )
            return onnx_proto(_export_module(self), example, ["X", "images"])


def _export_module(model: CNN) -> Any:
    """Scaler + network + sigmoid/softmax as one module ``(X, images) -> probabilities``."""
    import torch

    n_classes = len(model.classes_)

    class _Export(torch.nn.Module):
        lo: torch.Tensor
        hi: torch.Tensor
        center: torch.Tensor
        scale: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.net = model.net_
            register_scaler_buffers(self, model.scaler_)

        def forward(self, x: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
            z = apply_scaler_buffers(self, x)
            out = self.net(images, z)
            # X stays an input of the graph when it has no columns (adds exactly 0)
            out = out + 0.0 * z.sum(dim=1).reshape((-1,) + (1,) * (out.dim() - 1))
            if n_classes == 2:
                p = torch.sigmoid(out).reshape(-1, 1)
                return torch.cat([1.0 - p, p], dim=1)
            return torch.softmax(out, dim=1)

    return _Export().eval()
