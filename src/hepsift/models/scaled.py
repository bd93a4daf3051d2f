"""``Scaled``: a classifier trained on scaled features, the scaler saved with it.

A scikit-learn ``Pipeline([scaler, estimator])`` for hepsift models:
``Scaled(estimator, scaling="standard", clip_quantile=None)`` fits a
:class:`hepsift.features.scaling.Scaler` on the RAW training features (weighted by
``|sample_weight|``, or by ``|scaler_weight|`` when ``fit`` is given one), then fits the inner
``estimator`` on the scaled features (an ``eval_set`` is scaled alike). ``predict_proba`` takes
raw features. ``hepsift run`` wraps every family that does not scale its own inputs
(``scales_inputs`` False) in one, so a saved run model takes the features the run read.

The scaler is applied in float32 (``clip`` to float32 bounds, then ``(x - centre) / scale``
with float32 centre and scale), exactly the operations of the ONNX graph, so the two agree to
the inner model's own precision.

Missing values: ``impute="median"``, ``"mean"`` (per column, over the training events' finite
values) or a number replaces NaN before the scaler; the fill values are learned at ``fit``
(``impute_values_``), saved with the model and applied by its ONNX graph (``IsNaN``/``Where``).
Without ``impute`` NaN is refused.

Files: one folder: ``model.json`` (family ``scaled``, the scaler state) and the inner model's
folder ``estimator/``. ONNX: the scaler as ``Max``/``Min`` (clip; only when clipping),
``Sub``, ``Div`` nodes in front of the inner model's graph, input ``X`` (raw features).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError
from hepsift.models.base import Classifier, payload_path

__all__ = ["Scaled"]

_INNER = "estimator"


class Scaled(Classifier):
    """Scaler + classifier as one model (see the module docstring).

    ``estimator``: an unfitted hepsift classifier, or a registry family name (default
    ``"logistic"``). ``scaling``: ``"standard"``, ``"robust"`` or ``"none"``;
    ``clip_quantile``: see :class:`~hepsift.features.scaling.Scaler`. ``impute``: None,
    ``"median"``, ``"mean"`` or a number (see the module docstring).

    Learned: ``scaler_`` (the fitted Scaler), ``estimator_`` (the fitted inner model),
    ``impute_values_`` (per column, None without ``impute``), ``classes_``, ``n_features_in_``.
    """

    family: ClassVar[str] = "scaled"
    scales_inputs: ClassVar[bool] = True
    # the class-level capabilities are those of the default inner model (logistic): a caller
    # that wraps a family reads that family's class. ``fit`` accepts whatever keywords the
    # inner model accepts (``eval_set`` is scaled on the way), plus ``scaler_weight``.
    supports_eval_set: ClassVar[bool] = False
    reports_epochs: ClassVar[bool] = False
    scaler_: Any
    estimator_: Any

    def __init__(
        self,
        estimator: Any = None,
        *,
        scaling: str = "standard",
        clip_quantile: float | None = None,
        impute: str | float | None = None,
    ) -> None:
        self.estimator = estimator
        self.scaling = scaling
        self.clip_quantile = clip_quantile
        self.impute = impute

    # -- missing values ----------------------------------------------------------------------
    def accepts_nan(self) -> bool:
        return self.impute is not None

    def _fill_values(self, X: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The per-column fill values of ``impute`` learned on the training features."""
        how = self.impute
        if how is None:
            return None
        if isinstance(how, int | float) and not isinstance(how, bool) and np.isfinite(how):
            return np.full(X.shape[1], float(how))
        if how not in ("median", "mean"):
            raise ConfigError(
                f"Scaled: impute={how!r} is not allowed; use 'median', 'mean', a finite number "
                "or None"
            )
        finite = np.where(np.isfinite(X), X, np.nan)
        has = ~np.all(np.isnan(finite), axis=0)
        out = np.zeros(X.shape[1])
        if has.any():
            stat = np.nanmedian if how == "median" else np.nanmean
            out[has] = stat(finite[:, has], axis=0)
        return out

    def _filled(self, X: NDArray[Any]) -> NDArray[Any]:
        values = getattr(self, "impute_values_", None)
        if values is None:
            return X
        return np.where(np.isnan(X), np.asarray(values, dtype=X.dtype), X)

    # -- the inner model ---------------------------------------------------------------------
    def _inner(self) -> Classifier:
        from sklearn.base import clone

        from hepsift.models.registry import create

        est = self.estimator
        if est is None:
            est = "logistic"
        if isinstance(est, str):
            model = create(est)
        else:
            model = clone(est)
        if not isinstance(model, Classifier):
            raise ConfigError(
                f"Scaled(estimator=...) needs a hepsift classifier; got {type(model).__name__}"
            )
        if model.parametric:
            raise ConfigError(
                f"Scaled cannot wrap the parametric family '{model.family}' (it scales its own "
                "inputs)"
            )
        return model

    def _check_fit_keywords(self, fit_params: dict[str, Any]) -> None:
        inner = self._inner()
        rest = {k: v for k, v in fit_params.items() if k != "scaler_weight"}
        inner._check_fit_keywords(rest)

    # -- the scaler in float32, as the ONNX graph computes it --------------------------------
    def scale_features(self, X: ArrayLike) -> NDArray[np.float32]:
        """The inner model's input: ``X`` scaled in float32 (the ONNX graph's arithmetic)."""
        x = self._filled(np.array(X, dtype=np.float32))
        lo, hi, center, scale, clip = self.scaler_.float32_form()
        if clip:
            np.maximum(x, lo, out=x)
            np.minimum(x, hi, out=x)
        x -= center
        x /= scale
        return x

    # -- fit / predict -----------------------------------------------------------------------
    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        from hepsift.features.scaling import Scaler

        inner = self._inner()
        sw = fit_params.pop("scaler_weight", None)
        sw = np.abs(w) if sw is None else np.abs(self._sample_weight(sw, X.shape[0]))
        self.impute_values_ = self._fill_values(X)
        self.scaler_ = Scaler(self.scaling, clip_quantile=self.clip_quantile).fit(  # type: ignore[arg-type]
            self._filled(X), sample_weight=sw
        )
        if fit_params.get("eval_set") is not None:
            Xv, yv, wv = self._parse_eval_set(fit_params["eval_set"])
            fit_params["eval_set"] = (self.scale_features(Xv), yv, wv)
        # the inner model sees the encoded labels 0..K-1: its columns are ours
        inner.fit(self.scale_features(X), y, sample_weight=w, **fit_params)
        self.estimator_ = inner

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.estimator_.predict_proba(self.scale_features(X)), dtype=np.float64)

    @property
    def feature_importances_(self) -> NDArray[np.float64]:
        """The inner model's importances (per raw feature: scaling keeps the columns)."""
        return np.asarray(self.estimator_.feature_importances_, dtype=np.float64)

    @property
    def history_(self) -> Any:
        return self.estimator_.history_

    @property
    def evals_result_(self) -> Any:
        return self.estimator_.evals_result_

    @property
    def loss_history_(self) -> Any:
        return self.estimator_.loss_history_

    # -- files -------------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        self.estimator_.save(directory / _INNER)
        values = getattr(self, "impute_values_", None)
        return {
            "scaler": self.scaler_.to_dict(),
            "estimator": _INNER,
            "impute_values": None if values is None else [float(v) for v in values],
        }

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from sklearn.base import clone

        from hepsift.errors import DataError, ModelError
        from hepsift.features.scaling import Scaler

        try:
            self.scaler_ = Scaler.from_dict(state["scaler"])
        except (KeyError, TypeError, ValueError, DataError) as exc:
            raise ModelError(f"saved scaler in '{directory}' is unusable: {exc}") from None
        inner = Classifier.load(payload_path(directory, state.get("estimator", _INNER)))
        if int(inner.n_features_in_) != int(self.n_features_in_):
            raise ModelError(
                f"saved model in '{directory}': the scaler takes {self.n_features_in_} features "
                f"but the inner model {inner.n_features_in_}"
            )
        self.estimator_ = inner
        self.estimator = clone(inner)
        values = state.get("impute_values")
        self.impute_values_ = None if values is None else np.asarray(values, dtype=np.float64)
        if self.impute_values_ is not None and (
            self.impute_values_.shape != (int(self.n_features_in_),)
            or not np.all(np.isfinite(self.impute_values_))
        ):
            raise ModelError(f"saved model in '{directory}' has unusable impute_values")

    # -- ONNX --------------------------------------------------------------------------------
    def _onnx_proto(self) -> Any:
        from hepsift.export import onnx_proto_of, prepend_scaler

        lo, hi, center, scale, clip = self.scaler_.float32_form()
        proto = prepend_scaler(
            onnx_proto_of(self.estimator_),
            lo=lo if clip else None,
            hi=hi if clip else None,
            center=center,
            scale=scale,
        )
        values = getattr(self, "impute_values_", None)
        return proto if values is None else _prepend_fill(proto, values)


def _prepend_fill(proto: Any, values: NDArray[np.float64]) -> Any:
    """``proto`` with ``Where(IsNaN(X), values, X)`` (float32) in front of its input ``X``."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    prefix = "hepsift_impute_"
    graph.initializer.append(
        numpy_helper.from_array(np.asarray(values, dtype=np.float32), prefix + "values")
    )
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == "X":
                node.input[i] = prefix + "out"
    nodes = [
        helper.make_node("IsNaN", ["X"], [prefix + "isnan"]),
        helper.make_node("Where", [prefix + "isnan", prefix + "values", "X"], [prefix + "out"]),
    ]
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old)
    return proto
