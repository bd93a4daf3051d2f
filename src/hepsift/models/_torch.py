"""Plumbing shared by the torch model families (:mod:`.mlp`, :mod:`.pnn`, :mod:`.regression`).

Safetensors ``state_dict`` files, the input :class:`~hepsift.features.scaling.Scaler`, seeded
network construction, the internal validation split, the options passed to
:func:`hepsift.train.torch_loop.train_module`, chunked inference, the saved-state layout in
``model.json`` (``file``, ``net``, ``scaler``, ``history``) and the TorchScript ONNX export.
Private: the families re-export what their callers use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, ModelError

WEIGHTS_FILE = "weights.safetensors"

_T = TypeVar("_T")


class TorchModel:
    """The capabilities and learned state the torch families share (a mixin placed before
    :class:`~hepsift.models.base.Classifier` / ``Regressor`` in the bases): they take an
    ``eval_set``, fit their own input scaler, and have ``seed`` and ``progress``
    hyperparameters. Learned: ``scaler_``, ``net_``, ``net_args_``, ``history_``."""

    supports_eval_set: ClassVar[bool] = True
    scales_inputs: ClassVar[bool] = True
    seed_param: ClassVar[str | None] = "seed"
    progress_param: ClassVar[str | None] = "progress"
    requires_extra: ClassVar[str | None] = "torch"
    net_: Any
    scaler_: Any


# -- weights files ---------------------------------------------------------------------------
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


def check_net_size(model: Any, args: dict[str, Any], path: Path) -> None:
    """The network ``model._build_net(args)`` holds as many numbers as the weights file at
    ``path``: checked on torch's ``meta`` device (nothing allocated) before the real network
    is built, so tampered widths in ``model.json`` cannot ask for terabytes."""
    import torch
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ModelError(f"saved model lacks its weights file '{path}'")
    try:
        with safe_open(str(path), framework="pt") as fh:  # type: ignore[no-untyped-call]
            names = list(fh.keys())  # safe_open is not iterable
            in_file = sum(int(np.prod(fh.get_slice(k).get_shape())) for k in names)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"'{path}' is not a valid safetensors file: {exc}") from None
    with torch.device("meta"):
        meta = model._build_net(args)
    in_net = sum(int(t.numel()) for t in meta.state_dict().values())
    if in_net != in_file:
        raise ModelError(
            f"the network described in model.json holds {in_net} numbers but '{path}' holds "
            f"{in_file}"
        )


def save_torch_state(model: Any, directory: Path, **extra: Any) -> dict[str, Any]:
    """Write ``model.net_`` to ``directory`` and return its ``model.json`` state.

    Keys: ``file``, ``net`` (``model.net_args_``), ``scaler``, ``history`` plus ``extra``.
    """
    save_state_dict(model.net_, directory / WEIGHTS_FILE)
    history = getattr(model, "history_", None)
    return {
        "file": WEIGHTS_FILE,
        "net": model.net_args_,
        "scaler": model.scaler_.to_dict(),
        **extra,
        "history": history.to_dict() if history is not None else None,
    }


def load_torch_state(
    model: Any,
    directory: Path,
    state: dict[str, Any],
    *,
    what: str,
    read_extra: Callable[[dict[str, Any]], None] | None = None,
    errors: tuple[type[Exception], ...] = (KeyError, TypeError),
) -> None:
    """Inverse of :func:`save_torch_state`: set ``scaler_``, ``net_``, ``net_args_``, ``history_``.

    ``read_extra(state)`` reads the family's own keys; ``errors`` raised while reading become
    a ModelError naming ``what`` (e.g. ``MLP``) and ``directory``. The network is rebuilt by
    ``model._build_net(args)``.
    """
    from hepsift.features.scaling import Scaler
    from hepsift.train.torch_loop import History

    try:
        args = dict(state["net"])
        model.scaler_ = Scaler.from_dict(state["scaler"])
        if read_extra is not None:
            read_extra(state)
    except errors as exc:
        raise ModelError(f"saved {what} state in '{directory}' is incomplete: {exc}") from None
    from hepsift.models.base import payload_path

    weights = payload_path(directory, state.get("file", WEIGHTS_FILE))
    check_net_size(model, args, weights)
    net = model._build_net(args)
    load_state_dict(net, weights)
    net.eval()
    model.net_ = net
    model.net_args_ = args
    if state.get("history"):
        model.history_ = History.from_dict(state["history"])


# -- construction and training ---------------------------------------------------------------
def seeded(seed: int, build: Callable[[], _T]) -> _T:
    """``build()`` under torch's global RNG seeded with ``seed``, restored afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def build_mlp_net(args: dict[str, Any], seed: int) -> Any:
    """An :class:`~hepsift.models.nets.MLPNet` from its saved primitive arguments."""
    from hepsift.models.nets import MLPNet

    return seeded(
        seed,
        lambda: MLPNet(
            args["n_in"],
            tuple(args["hidden"]),
            args["n_out"],
            activation=args["activation"],
            dropout=args["dropout"],
            batch_norm=args["batch_norm"],
        ),
    )


def scaler_from(kind: str, clip_quantile: float | None) -> Any:
    """An unfitted :class:`~hepsift.features.scaling.Scaler`."""
    from hepsift.features.scaling import Scaler

    return Scaler(kind, clip_quantile=clip_quantile)  # type: ignore[arg-type]


def fit_scaler(
    kind: str, clip_quantile: float | None, X: NDArray[np.float64], wt: NDArray[np.float64]
) -> Any:
    """A Scaler fit on ``X`` weighted by ``|wt|`` (unweighted when every weight is zero)."""
    scaler = scaler_from(kind, clip_quantile)
    scaler.fit(X, sample_weight=np.abs(wt) if np.any(wt) else None)
    return scaler


def split_validation(
    n: int, y: NDArray[Any], fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stratified (train, validation) index split for an internal early-stopping set."""
    from hepsift.dataset import split_indices

    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in (0, 1) or 0; got {fraction}")
    train, valid = split_indices(n, (1.0 - fraction, fraction), seed=seed, y=y)
    return train, valid


def split_off_validation(
    strata: NDArray[Any], fraction: float, seed: int, arrays: Sequence[NDArray[Any]]
) -> tuple[tuple[NDArray[Any], ...], tuple[NDArray[Any], ...]]:
    """(train parts, validation parts) of ``arrays`` by :func:`split_validation` on ``strata``."""
    tr, va = split_validation(len(strata), strata, float(fraction), int(seed))
    return tuple(a[tr] for a in arrays), tuple(a[va] for a in arrays)


def eval_set_or_split(
    model: Any, eval_set: Any, strata: NDArray[Any], arrays: Sequence[NDArray[Any]]
) -> tuple[tuple[NDArray[Any], ...], tuple[NDArray[Any], ...] | None]:
    """(training ``arrays``, validation set): ``model._parse_eval_set(eval_set)`` when one is
    given, else the model's internal ``validation_fraction`` split of ``arrays`` stratified by
    ``strata`` (no validation set when that fraction is 0)."""
    if eval_set is not None:
        return tuple(arrays), model._parse_eval_set(eval_set)
    if model.validation_fraction:
        return split_off_validation(strata, model.validation_fraction, model.seed, arrays)
    return tuple(arrays), None


def net_args(model: Any, n_in: int, n_out: int, **extra: Any) -> dict[str, Any]:
    """The primitive network arguments saved in ``model.json``: input and output widths, the
    family's ``hidden``, ``activation`` and ``dropout``, plus the family's ``extra`` ones."""
    return {
        "n_in": int(n_in),
        "hidden": [int(h) for h in model.hidden],
        "n_out": int(n_out),
        "activation": str(model.activation),
        "dropout": float(model.dropout),
        **extra,
    }


def scaled32(scaler: Any, X: NDArray[np.float64]) -> NDArray[np.float32]:
    """``scaler.transform(X)`` as the float32 network input."""
    return np.asarray(scaler.transform(X), dtype=np.float32)


def train_net(
    model: Any,
    scaler: Any,
    args: dict[str, Any],
    train: tuple[tuple[Any, ...], NDArray[Any], NDArray[np.float64]],
    validation: tuple[tuple[Any, ...], NDArray[Any], NDArray[np.float64]] | None,
    *,
    loss: str,
    on_epoch: Callable[..., Any] | None = None,
) -> None:
    """Build ``model._build_net(args)``, train it on ``train = (inputs, target, weight)`` with
    :func:`hepsift.train.torch_loop.train_module` and the model's :func:`train_options`, and set
    ``scaler_``, ``net_``, ``net_args_`` and ``history_``."""
    from hepsift.train.torch_loop import train_module

    model.scaler_ = scaler
    net = model._build_net(args)
    inputs, target, weight = train
    model.history_ = train_module(
        net,
        inputs,
        target,
        weight,
        loss=loss,  # type: ignore[arg-type]
        validation=validation,
        on_epoch=on_epoch,
        **train_options(model),
    )
    model.net_ = net
    model.net_args_ = args


def train_options(model: Any) -> dict[str, Any]:
    """The ``train_module`` keyword arguments every torch family takes from its parameters."""
    return {
        "epochs": int(model.epochs),
        "batch_size": int(model.batch_size),
        "lr": float(model.lr),
        "weight_decay": float(model.weight_decay),
        "patience": int(model.patience),
        "schedule": model.schedule,
        "seed": int(model.seed),
        "progress": bool(model.progress),
        "num_threads": model.num_threads,
    }


# -- inference -------------------------------------------------------------------------------
def forward_chunks(
    forward: Callable[[slice], Any], n: int, chunk: int, empty: Callable[[], Any]
) -> Any:
    """``forward(rows)`` over ``n`` events in chunks under ``torch.inference_mode``, concatenated
    (``empty()`` when ``n == 0``)."""
    import torch

    with torch.inference_mode():
        outs = [forward(slice(start, start + chunk)) for start in range(0, n, chunk)]
        return torch.cat(outs) if outs else empty()


# -- ONNX ------------------------------------------------------------------------------------
def register_scaler_buffers(module: Any, scaler: Any) -> None:
    """Store a fitted Scaler's clip bounds, centre and scale as float32 buffers of ``module``
    (``lo``, ``hi``, ``center``, ``scale``; ``module.clip`` says whether to clip)."""
    import torch

    lo, hi, center, scale, module.clip = scaler.float32_form()
    for name, value in (("lo", lo), ("hi", hi), ("center", center), ("scale", scale)):
        module.register_buffer(name, torch.tensor(value))


def apply_scaler_buffers(module: Any, x: Any) -> Any:
    """The scaler of :func:`register_scaler_buffers` as torch ops (clip, centre, scale)."""
    import torch

    if module.clip:
        x = torch.minimum(torch.maximum(x, module.lo), module.hi)
    return (x - module.center) / module.scale


def onnx_proto(
    module: Any,
    example: tuple[Any, ...],
    input_names: Sequence[str],
    *,
    output: str = "probabilities",
    extra_axes: dict[str, dict[int, str]] | None = None,
) -> Any:
    """Export ``module(*inputs) -> output`` with a dynamic batch axis on every input and
    the output (TorchScript exporter, opset 17); return the ``onnx.ModelProto``.
    ``extra_axes``: more dynamic axes per input name (a set model's slot axis)."""
    import io

    import onnx
    import torch

    axes = {name: {0: "n"} for name in [*input_names, output]}
    for name, more in (extra_axes or {}).items():
        axes[name] = {**axes[name], **more}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of the dynamo one, which needs the
        # onnxscript package; the TorchScript one is exact for these plain feed-forward nets
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            module,
            example,
            buf,  # type: ignore[arg-type]
            dynamo=False,
            input_names=list(input_names),
            output_names=[output],
            dynamic_axes=axes,
            opset_version=17,
        )
    return onnx.load_from_string(buf.getvalue())
