"""Parametric neural network (pNN): an MLP conditioned on a physics parameter, e.g. a mass.

After Baldi et al. (2016, arXiv:1601.07913) and Anzalone et al. (2022, arXiv:2202.00424). One
network serves every mass hypothesis ``m`` (GeV): the classifier answers "signal of mass ``m``
or background?" for the ``m`` it is given.

Conditioning mechanisms (``mechanism=``), applied to the pre-activation ``z = W h + b`` of
*every* hidden layer (except ``concat``):

- ``concat``: ``m`` appended to the input features (Baldi et al.); the hidden layers are plain.
- ``bias``: ``z + Linear(m)``.
- ``scale``: ``z * Linear(m)`` (the linear map starts at the identity: weight 0, bias 1).
- ``affine``: ``z * Linear(m) + Linear(m)`` (FiLM; the scale part starts at the identity).

``m`` enters the network standardised by the centre and spread of the training signal masses
(``param_center_``, ``param_scale_``, saved with the model); features are scaled by a
:class:`hepsift.features.scaling.Scaler` fit on the training events, as in :mod:`.mlp`.

The parameter is an explicit argument, never a hidden column::

    model = PNN(mechanism="affine").fit(X, y, sample_weight=w, param=mass_gev)
    model.predict_proba(X_test, param=1000.0)        # a scalar, or one mass per event

Background events have no true mass. At fit time the background masses are replaced according
to ``background_mass`` (seeded by ``seed``): ``uniform`` draws each background event's mass
uniformly from the set of distinct signal masses (or uniformly over their range when the
signal masses are continuous: more than :data:`MAX_DISCRETE_MASSES` distinct values);
``identical`` draws it from the signal's own (weighted) mass distribution; ``given`` keeps the
masses passed in (e.g. already assigned in a UCI HEPMASS file). With ``balance=True`` the
training weights are then normalised so that every (mass, class) cell carries the same total
weight (mean weight 1), so mini-batches are balanced over masses and classes in expectation.
The same assignment and balancing are applied to the ``eval_set`` used for early stopping.

Binary classification only (signal = the larger label). The scikit-learn ``check_estimator``
suite cannot pass the required ``param``, so this family is not checked with it: ``fit`` and
``predict_proba`` without ``param`` raise :class:`~hepsift.errors.ModelError`.

Files: ``weights.safetensors`` + ``model.json`` (network arguments, scaler, parameter
scaling, signal masses). ONNX: two inputs, ``X`` float32 ``[n, d]`` and ``param`` float32
``[n, 1]`` (GeV); output ``probabilities`` ``[n, 2]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from hepsift.errors import ConfigError, DataError, ModelError, suggest
from hepsift.models._torch import (
    apply_scaler_buffers,
    encode_labels,
    fit_scaler,
    forward_chunks,
    load_torch_state,
    onnx_proto,
    register_scaler_buffers,
    save_torch_state,
    seeded,
    split_off_validation,
    train_options,
)
from hepsift.models.base import Classifier
from hepsift.models.nets import make_activation
from hepsift.train.weights import check_negative_policy, training_weights

__all__ = [
    "BACKGROUND_MASS_POLICIES",
    "MAX_DISCRETE_MASSES",
    "MECHANISMS",
    "PNN",
    "PNNNet",
    "assign_background_mass",
    "balanced_weights",
    "mass_cells",
    "onnx_parity",
    "signal_mass_points",
]

MECHANISMS = ("concat", "bias", "scale", "affine")
BACKGROUND_MASS_POLICIES = ("uniform", "identical", "given")
#: more distinct signal masses than this and they are treated as a continuous range
MAX_DISCRETE_MASSES = 32
#: number of quantile bins of a continuous signal-mass range used as balancing cells
CONTINUOUS_MASS_BINS = 10
_COND_UNITS = {"concat": 0, "bias": 1, "scale": 1, "affine": 2}


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{name} '{value}' is not one of {list(allowed)}{suggest(str(value), allowed)}"
        )


# -- the torch module ------------------------------------------------------------------------
class PNNNet(nn.Module):
    """``n_in`` features + parameter ``m`` -> ``hidden`` layers -> ``n_out`` logits.

    ``forward(x, m)``: ``x`` (n, n_in), ``m`` (n,) or (n, 1), already standardised. Each hidden
    block is Linear, conditioning (see the module docstring), activation, optional Dropout.
    All conditioning vectors come from one ``Linear(1, k * sum(hidden))`` (``cond``), split per
    layer, so the conditioning costs one matrix product per batch.
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int] = (64, 64),
        n_out: int = 1,
        *,
        mechanism: str = "affine",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_choice("mechanism", mechanism, MECHANISMS)
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {dropout}")
        widths = [int(h) for h in hidden]
        if not widths or any(h < 1 for h in widths):
            raise ConfigError(
                f"a pNN needs at least one hidden layer of width >= 1; got hidden={list(hidden)}"
            )
        self.mechanism = mechanism
        self.widths = tuple(widths)
        self.n_out = int(n_out)
        prev = int(n_in) + (1 if mechanism == "concat" else 0)
        layers = []
        for h in widths:
            layers.append(nn.Linear(prev, h))
            prev = h
        self.layers = nn.ModuleList(layers)
        self.act = make_activation(activation)
        self.drop: nn.Module = nn.Dropout(float(dropout)) if dropout > 0 else nn.Identity()
        self.out = nn.Linear(prev, int(n_out))
        units = _COND_UNITS[mechanism]
        total = sum(widths)
        self.cond: nn.Linear | None = nn.Linear(1, units * total) if units else None
        if self.cond is not None and mechanism in ("scale", "affine"):
            with torch.no_grad():  # the multiplicative part starts as the identity
                self.cond.weight[:total].zero_()
                self.cond.bias[:total].fill_(1.0)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        m = m.reshape(-1, 1).to(x.dtype)
        h = torch.cat([x, m], dim=1) if self.mechanism == "concat" else x
        if self.cond is None:
            for layer in self.layers:
                h = self.drop(self.act(layer(h)))
        else:
            # one split (its backward is one concatenation) rather than per-layer slicing
            k = _COND_UNITS[self.mechanism]
            parts = self.cond(m).split(list(self.widths) * k, dim=1)
            n_layers = len(self.layers)
            for i, layer in enumerate(self.layers):
                z = layer(h)
                if self.mechanism == "bias":
                    z = z + parts[i]
                elif self.mechanism == "scale":
                    z = z * parts[i]
                else:  # affine: z * gamma(m) + beta(m)
                    z = torch.addcmul(parts[n_layers + i], z, parts[i])
                h = self.drop(self.act(z))
        out: torch.Tensor = self.out(h)
        return out.squeeze(-1) if self.n_out == 1 else out


# -- background masses and balancing ---------------------------------------------------------
def signal_mass_points(signal_param: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    """The distinct signal masses (sorted, GeV) and whether they form a discrete set.

    More than :data:`MAX_DISCRETE_MASSES` distinct values count as a continuous range.
    """
    p = np.asarray(signal_param, dtype=np.float64).ravel()
    if p.size == 0:
        raise DataError("no signal events: the signal mass set is empty")
    if not np.all(np.isfinite(p)):
        raise DataError("signal events need a finite mass (param); got NaN or inf")
    values = np.unique(p)
    return values, values.size <= MAX_DISCRETE_MASSES


def assign_background_mass(
    param: ArrayLike,
    y: ArrayLike,
    *,
    policy: str = "uniform",
    seed: int | np.random.Generator = 0,
    sample_weight: ArrayLike | None = None,
    signal_label: Any = 1,
) -> NDArray[np.float64]:
    """Masses (GeV) for every event: signal keeps its own, background gets one by ``policy``.

    - ``uniform``: uniform over the distinct signal masses (each mass equally likely however
      many signal events it has), or uniform over [min, max] when the masses are continuous;
    - ``identical``: drawn from the signal's mass distribution, with the signal events'
      ``abs(sample_weight)`` as probabilities (equal when None);
    - ``given``: the background masses passed in are kept (they must be finite).

    ``seed`` is an int or a ``np.random.Generator``; the result depends on nothing else.
    """
    _check_choice("background_mass policy", policy, BACKGROUND_MASS_POLICIES)
    yy = np.asarray(y).ravel()
    p = np.broadcast_to(np.asarray(param, dtype=np.float64), yy.shape).copy()
    sig = yy == signal_label
    bkg = ~sig
    if policy == "given":
        if not np.all(np.isfinite(p[bkg])):
            raise DataError(
                "background_mass='given' needs a finite mass for every background event; "
                "got NaN/inf (use 'uniform' or 'identical' to assign them)"
            )
        signal_mass_points(p[sig])
        return p
    values, discrete = signal_mass_points(p[sig])
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_bkg = int(bkg.sum())
    if policy == "uniform":
        if discrete:
            p[bkg] = values[rng.integers(0, values.size, n_bkg)]
        else:
            p[bkg] = rng.uniform(values[0], values[-1], n_bkg)
        return p
    # identical: resample the signal masses
    sig_p = p[sig]
    if sample_weight is None:
        prob = None
    else:
        ws = np.abs(np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), yy.shape)[sig])
        total = ws.sum()
        if not total > 0:
            raise DataError("background_mass='identical': signal weights sum to zero")
        prob = ws / total
    p[bkg] = rng.choice(sig_p, size=n_bkg, p=prob)
    return p


def mass_cells(param: ArrayLike, signal_param: ArrayLike) -> NDArray[np.int64]:
    """The balancing cell of every event's mass: the index of the nearest distinct signal mass
    (discrete set) or of the signal-mass quantile bin (continuous range)."""
    p = np.asarray(param, dtype=np.float64).ravel()
    values, discrete = signal_mass_points(signal_param)
    if discrete:
        if values.size == 1:
            return np.zeros(p.size, dtype=np.int64)
        mid = 0.5 * (values[1:] + values[:-1])
        return np.searchsorted(mid, p, side="right").astype(np.int64)
    sp = np.asarray(signal_param, dtype=np.float64).ravel()
    edges = np.quantile(sp, np.linspace(0.0, 1.0, CONTINUOUS_MASS_BINS + 1)[1:-1])
    return np.searchsorted(edges, p, side="right").astype(np.int64)


def balanced_weights(
    param: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
    *,
    signal_label: Any = 1,
) -> NDArray[np.float64]:
    """Weights giving every non-empty (mass cell, class) the same total, with mean weight 1.

    Within a cell the events keep their relative ``sample_weight`` (signed MC weights allowed,
    but a cell whose total is not positive is a DataError). Cells: :func:`mass_cells` of the
    signal masses.
    """
    yy = np.asarray(y).ravel()
    p = np.asarray(param, dtype=np.float64).ravel()
    if p.shape != yy.shape:
        raise DataError(f"param has {p.size} entries for {yy.size} events")
    if not np.all(np.isfinite(p)):
        raise DataError("balanced_weights needs a finite mass for every event (assign first)")
    w = (
        np.ones(yy.size)
        if sample_weight is None
        else np.asarray(sample_weight, dtype=np.float64).ravel().copy()
    )
    if w.shape != yy.shape:
        raise DataError(f"sample_weight has {w.size} entries for {yy.size} events")
    cell = mass_cells(p, p[yy == signal_label])
    classes, cls = np.unique(yy, return_inverse=True)
    key = cell * classes.size + cls
    keys, inv = np.unique(key, return_inverse=True)
    totals = np.bincount(inv, weights=w, minlength=keys.size)
    if np.any(totals <= 0):
        bad = keys[np.argmax(totals <= 0)]
        raise DataError(
            f"(mass cell {bad // classes.size}, class {classes[bad % classes.size]!r}) has total "
            f"training weight {totals[totals <= 0][0]:.3g} <= 0; cannot balance "
            "(try negative_weights='abs')"
        )
    target = yy.size / keys.size
    return w * (target / totals)[inv]


# -- the classifier --------------------------------------------------------------------------
def _param_array(param: Any, n: int, what: str) -> NDArray[np.float64]:
    if param is None:
        raise ModelError(
            f"PNN.{what} needs param= (the mass hypothesis in GeV: a number or one per event)"
        )
    try:
        arr = np.asarray(param, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"PNN.{what}: param must be numeric; got {type(param).__name__}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise DataError(f"PNN.{what}: param has shape {arr.shape}; expected a scalar or ({n},)")
    return arr


class PNN(Classifier):
    """Parametric neural network (see the module docstring)."""

    family: ClassVar[str] = "pnn"
    requires_extra: ClassVar[str] = "torch"  # hepsift.extras: checked by models.model_class
    onnx_supported: ClassVar[bool] = True
    #: fit/predict need ``param=``; tells callers (``hepsift run``) to pass it
    parametric: ClassVar[bool] = True
    net_: Any
    scaler_: Any

    def __init__(
        self,
        *,
        mechanism: str = "affine",
        hidden: tuple[int, ...] = (64, 64),
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
        background_mass: str = "uniform",
        balance: bool = True,
        negative_weights: str = "keep",
        num_threads: int | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.mechanism = mechanism
        self.hidden = hidden
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
        self.background_mass = background_mass
        self.balance = balance
        self.negative_weights = negative_weights
        self.num_threads = num_threads
        self.progress = progress
        self.seed = seed

    # -- network ---------------------------------------------------------------------------
    def _net_args(self) -> dict[str, Any]:
        return {
            "n_in": int(self.n_features_in_),
            "hidden": [int(h) for h in self.hidden],
            "n_out": 1,
            "mechanism": str(self.mechanism),
            "activation": str(self.activation),
            "dropout": float(self.dropout),
        }

    def _build_net(self, args: dict[str, Any]) -> PNNNet:
        return seeded(
            int(self.seed),
            lambda: PNNNet(
                int(args["n_in"]),
                tuple(args["hidden"]),
                int(args["n_out"]),
                mechanism=str(args["mechanism"]),
                activation=str(args["activation"]),
                dropout=float(args["dropout"]),
            ),
        )

    def _scale_param(self, p: NDArray[np.float64]) -> NDArray[np.float32]:
        z = (p - self.param_center_) / self.param_scale_
        return np.ascontiguousarray(z.reshape(-1, 1), dtype=np.float32)

    def _prepare_weights(
        self,
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        p: NDArray[np.float64],
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(masses with background assigned, training weights) for encoded labels ``y``."""
        wt = training_weights(y, w, negative=self.negative_weights, classes=self.classes_)
        mass = assign_background_mass(p, y, policy=self.background_mass, seed=rng, sample_weight=wt)
        if self.balance:
            wt = balanced_weights(mass, y, wt)
        return mass, wt

    # -- fit / predict ---------------------------------------------------------------------
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        param: ArrayLike | None = None,
        eval_set: Any = None,
        eval_param: ArrayLike | None = None,
        **fit_params: Any,
    ) -> PNN:
        """Train on ``X`` (n, d), labels ``y`` and masses ``param`` (GeV; a number or (n,)).

        ``eval_set=(X_val, y_val[, w_val])`` with ``eval_param`` (its masses) drives early
        stopping; background masses of both are assigned by ``background_mass``.
        """
        if fit_params:
            raise ModelError(
                f"PNN.fit got unknown arguments {sorted(fit_params)} "
                "(allowed: param, eval_set, eval_param)"
            )
        if param is None:
            _param_array(None, 0, "fit")
        return super().fit(  # type: ignore[return-value]
            X, y, sample_weight, param=param, eval_set=eval_set, eval_param=eval_param
        )

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        from hepsift.train.torch_loop import train_module

        _check_choice("mechanism", self.mechanism, MECHANISMS)
        _check_choice("background_mass", self.background_mass, BACKGROUND_MASS_POLICIES)
        check_negative_policy(self.negative_weights)
        if len(self.classes_) != 2:
            raise ModelError(
                f"a pNN separates signal from background: it needs exactly 2 classes; got "
                f"{len(self.classes_)} ({list(self.classes_)})"
            )
        p = _param_array(fit_params.get("param"), len(y), "fit")
        if not np.all(np.isfinite(p[y == 1])):
            raise DataError("PNN.fit: signal events need a finite mass (param); got NaN or inf")
        seeds = np.random.SeedSequence(int(self.seed)).spawn(2)
        mass, wt = self._prepare_weights(y, w, p, np.random.default_rng(seeds[0]))

        valid: tuple[Any, ...] | None = None
        if fit_params.get("eval_set") is not None:
            from hepsift.models.boosting import parse_eval_set

            Xv, yv, wv = parse_eval_set(fit_params["eval_set"], X.shape[1], self._encode)
            pv = _param_array(fit_params.get("eval_param"), len(yv), "fit (eval_param)")
            if np.any(yv == 1) and np.any(yv == 0):
                mv, wvt = self._prepare_weights(yv, wv, pv, np.random.default_rng(seeds[1]))
                valid = (Xv, yv, wvt, mv)
        elif self.validation_fraction:
            (X, y, wt, mass), valid = split_off_validation(
                y, self.validation_fraction, self.seed, (X, y, wt, mass)
            )

        values, discrete = signal_mass_points(mass[y == 1])
        self.signal_masses_ = values if discrete else np.array([values[0], values[-1]])
        self.masses_discrete_ = bool(discrete)
        spread = float(np.std(values))
        self.param_center_ = float(np.mean(values))
        self.param_scale_ = spread if spread > 0 else 1.0

        scaler = fit_scaler(self.scaling, self.clip_quantile, X, wt)
        self.scaler_ = scaler
        args = self._net_args()
        net = self._build_net(args)
        validation = None
        if valid is not None:
            validation = (
                (scaler.transform(valid[0]).astype(np.float32), self._scale_param(valid[3])),
                valid[1],
                valid[2],
            )
        self.history_ = train_module(
            net,
            (scaler.transform(X).astype(np.float32), self._scale_param(mass)),
            y,
            wt,
            loss="bce",
            validation=validation,
            **train_options(self),
        )
        self.net_ = net
        self.net_args_ = args

    def _encode(self, y: NDArray[Any]) -> NDArray[np.int64]:
        return encode_labels(self.classes_, y)

    def predict_proba(  # type: ignore[override]
        self, X: ArrayLike, param: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Probabilities (n, 2) of background and signal at mass hypothesis ``param`` (GeV)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        Xv = self._validate_X(X, reset=False)
        p = _param_array(param, Xv.shape[0], "predict_proba")
        if not np.all(np.isfinite(p)):
            raise DataError("PNN.predict_proba: param contains NaN or inf")
        Z = torch.from_numpy(np.ascontiguousarray(self.scaler_.transform(Xv), dtype=np.float32))
        M = torch.from_numpy(self._scale_param(p))
        self.net_.eval()
        out = forward_chunks(
            lambda rows: self.net_(Z[rows], M[rows]), Z.shape[0], 65536, lambda: torch.zeros(0)
        )
        s = torch.sigmoid(out).double().numpy()
        return np.column_stack([1.0 - s, s])

    def predict(  # type: ignore[override]
        self, X: ArrayLike, param: ArrayLike | None = None
    ) -> NDArray[Any]:
        proba = self.predict_proba(X, param)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]

    def decision_score(  # type: ignore[override]
        self, X: ArrayLike, param: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """The signal probability at mass hypothesis ``param`` (GeV)."""
        return self.predict_proba(X, param)[:, 1]

    def score(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, *, param: Any
    ) -> float:
        """Weighted accuracy at mass hypothesis ``param``."""
        pred = self.predict(X, param)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return float(np.average(pred == np.asarray(y), weights=w))

    # -- files -----------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        return save_torch_state(
            self,
            directory,
            param_center=float(self.param_center_),
            param_scale=float(self.param_scale_),
            signal_masses=[float(v) for v in self.signal_masses_],
            masses_discrete=bool(self.masses_discrete_),
        )

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        def read_extra(st: dict[str, Any]) -> None:
            self.param_center_ = float(st["param_center"])
            self.param_scale_ = float(st["param_scale"])
            self.signal_masses_ = np.asarray(st["signal_masses"], dtype=np.float64)
            self.masses_discrete_ = bool(st.get("masses_discrete", True))

        load_torch_state(
            self,
            directory,
            state,
            what="pNN",
            read_extra=read_extra,
            errors=(KeyError, TypeError, ValueError),
        )

    # -- ONNX ------------------------------------------------------------------------------
    def to_onnx(self, path: str | os.PathLike[str]) -> Path:
        """ONNX file with inputs ``X`` float32 [n, d] and ``param`` float32 [n, 1] (GeV)."""
        return super().to_onnx(path)

    def _onnx_proto(self) -> Any:
        example = (
            torch.zeros(2, int(self.n_features_in_)),
            torch.full((2, 1), float(self.param_center_)),
        )
        return onnx_proto(_ExportPNN(self).eval(), example, ["X", "param"])


class _ExportPNN(nn.Module):
    """Feature scaler + parameter standardisation + network + sigmoid, for ONNX export."""

    lo: torch.Tensor
    hi: torch.Tensor
    center: torch.Tensor
    scale: torch.Tensor

    def __init__(self, model: PNN) -> None:
        super().__init__()
        self.net = model.net_
        register_scaler_buffers(self, model.scaler_)
        self.p_center = float(model.param_center_)
        self.p_scale = float(model.param_scale_)

    def forward(self, x: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        z = apply_scaler_buffers(self, x)
        m = (param - self.p_center) / self.p_scale
        p = torch.sigmoid(self.net(z, m)).reshape(-1, 1)
        return torch.cat([1.0 - p, p], dim=1)


def onnx_parity(
    model: PNN,
    path: str | os.PathLike[str],
    X: ArrayLike,
    param: ArrayLike,
    *,
    atol: float = 1e-5,
) -> float:
    """Max |ONNX Runtime - predict_proba| over ``(X, param)``; ModelError above ``atol``."""
    from hepsift.export import onnx_session

    arr = np.ascontiguousarray(X, dtype=np.float32)
    p = _param_array(param, arr.shape[0], "onnx_parity").astype(np.float32)
    ref = model.predict_proba(arr, p)
    sess = onnx_session(path)
    got = np.asarray(sess.run(["probabilities"], {"X": arr, "param": p.reshape(-1, 1)})[0])
    if got.shape != ref.shape:
        raise ModelError(f"ONNX output has shape {got.shape}; predict_proba gives {ref.shape}")
    diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
    if not diff <= atol:
        raise ModelError(
            f"ONNX parity check failed for '{path}': max |score difference| {diff:.3g} > {atol:g}"
        )
    return diff
