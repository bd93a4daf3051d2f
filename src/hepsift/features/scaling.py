"""Feature scaling fit on the training set only, with JSON state saved next to the model.

:class:`Scaler` centres and scales each column, optionally after clipping outliers to
per-column quantiles measured on the training data. All statistics are *weighted* by the
training weights when given (MC weights may be negative; negative weights are treated by their
absolute value for quantiles, medians and spreads so that the statistics stay well defined).

- ``kind="standard"``: centre = weighted mean, scale = weighted standard deviation.
- ``kind="robust"``: centre = weighted median, scale = weighted inter-quartile range (25-75 %).
- ``kind="none"``: centre 0, scale 1 (clipping may still apply).

Columns with zero spread get scale 1, so constant features map to 0 instead of NaN.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError, suggest

__all__ = ["SCALER_FORMAT", "Scaler", "weighted_quantile"]

SCALER_FORMAT = "hepsift-scaler/1"
ScalerKind = Literal["standard", "robust", "none"]
_KINDS = ("standard", "robust", "none")


def weighted_quantile(
    X: NDArray[np.float64], q: ArrayLike, sample_weight: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Per-column weighted quantiles of ``X`` (n, d) at the levels ``q`` -> (len(q), d).

    Without weights this is ``np.quantile(X, q, axis=0)`` (the "linear" rule, as scikit-learn's
    RobustScaler). With weights it interpolates the weighted empirical CDF at the mid-point of
    each event's weight, ``(cumsum(w) - w/2) / sum(w)`` (the "hazen" rule when weights are
    equal); ``abs(w)`` is used so negative MC weights do not break monotonicity.
    """
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if sample_weight is None:
        return np.asarray(np.quantile(X, qs, axis=0), dtype=np.float64)
    w = np.abs(np.asarray(sample_weight, dtype=np.float64))
    out = np.empty((qs.size, X.shape[1]), dtype=np.float64)
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        xs = X[order, j]
        ws = w[order]
        keep = ws > 0
        xs, ws = xs[keep], ws[keep]
        if xs.size == 0:
            out[:, j] = 0.0
            continue
        cw = np.cumsum(ws)
        pos = (cw - 0.5 * ws) / cw[-1]
        out[:, j] = np.interp(qs, pos, xs)
    return out


class Scaler:
    """Clip-then-scale transform of feature columns, fit on train only (see module docstring).

    Parameters
    ----------
    kind:
        ``"standard"`` (weighted mean / std), ``"robust"`` (weighted median / IQR) or ``"none"``.
    clip_quantile:
        When set (0 < q < 0.5), values are clipped to the per-column weighted quantiles
        ``(q, 1 - q)`` measured at fit time, before centring; else no clipping (bounds +-inf).

    Fitted attributes: ``center_``, ``scale_``, ``lo_``, ``hi_`` (float64, one per column) and
    ``n_features_in_``.
    """

    def __init__(self, kind: ScalerKind = "standard", *, clip_quantile: float | None = None):
        if kind not in _KINDS:
            raise ConfigError(
                f"scaler kind '{kind}' is not one of {list(_KINDS)}{suggest(str(kind), _KINDS)}"
            )
        if clip_quantile is not None and not (0.0 < float(clip_quantile) < 0.5):
            raise ConfigError(
                f"scaler clip_quantile must be in (0, 0.5) or None; got {clip_quantile!r}"
            )
        self.kind: ScalerKind = kind
        self.clip_quantile = None if clip_quantile is None else float(clip_quantile)

    def __repr__(self) -> str:
        return f"Scaler(kind={self.kind!r}, clip_quantile={self.clip_quantile!r})"

    # -- fitting -------------------------------------------------------------------------
    @staticmethod
    def _as_2d(X: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2:
            raise DataError(f"Scaler expects a 2-D array (events, features); got shape {arr.shape}")
        return arr

    def fit(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> Scaler:
        """Measure clipping bounds, centre and scale per column on (training) data ``X``."""
        arr = self._as_2d(X)
        n, d = arr.shape
        if n == 0:
            raise DataError("Scaler.fit got 0 events; cannot measure a centre and scale")
        if not np.all(np.isfinite(arr)):
            bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=0)).tolist()
            raise DataError(f"Scaler.fit: feature columns {bad} contain NaN or inf")
        w: NDArray[np.float64] | None = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (n,):
                raise DataError(f"Scaler.fit: sample_weight has shape {w.shape}; expected ({n},)")
            if not np.all(np.isfinite(w)):
                raise DataError("Scaler.fit: sample_weight contains NaN or inf")
            if np.abs(w).sum() <= 0:
                raise DataError("Scaler.fit: sample_weight sums to zero; nothing to fit on")
        if self.clip_quantile is not None:
            q = self.clip_quantile
            lo, hi = weighted_quantile(arr, [q, 1.0 - q], w)
        else:
            lo = np.full(d, -np.inf)
            hi = np.full(d, np.inf)
        clipped = np.clip(arr, lo, hi)
        if self.kind == "standard":
            aw = np.ones(n) if w is None else np.abs(w)
            center = np.average(clipped, axis=0, weights=aw)
            var = np.average((clipped - center) ** 2, axis=0, weights=aw)
            scale = np.sqrt(var)
        elif self.kind == "robust":
            q25, q50, q75 = weighted_quantile(clipped, [0.25, 0.5, 0.75], w)
            center = q50
            scale = q75 - q25
        else:
            center = np.zeros(d)
            scale = np.ones(d)
        scale = np.where(np.isfinite(scale) & (scale > 1e-12 * (1.0 + np.abs(center))), scale, 1.0)
        self.lo_ = np.asarray(lo, dtype=np.float64)
        self.hi_ = np.asarray(hi, dtype=np.float64)
        self.center_ = np.asarray(center, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.n_features_in_ = d
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "center_"):
            raise DataError("Scaler is not fitted yet; call fit(X_train) first")

    # -- applying ------------------------------------------------------------------------
    def transform(self, X: ArrayLike) -> NDArray[Any]:
        """``(clip(X, lo_, hi_) - center_) / scale_``; float32 in gives float32 out."""
        self._check_fitted()
        arr_in = np.asarray(X)
        out_dtype = np.float32 if arr_in.dtype == np.float32 else np.float64
        arr = self._as_2d(arr_in)
        if arr.shape[1] != self.n_features_in_:
            raise DataError(
                f"Scaler was fit on {self.n_features_in_} features; got {arr.shape[1]} columns"
            )
        out = (np.clip(arr, self.lo_, self.hi_) - self.center_) / self.scale_
        return out.astype(out_dtype, copy=False)

    def float32_form(
        self,
    ) -> tuple[
        NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], bool
    ]:
        """``(lo, hi, center, scale, clip)`` in float32, the form ONNX graphs and torch buffers
        compute with: infinite clip bounds become float32's extremes; ``clip`` says whether any
        bound is finite (else the clipping can be skipped)."""
        self._check_fitted()
        f32 = np.finfo(np.float32)
        clip = bool(np.any(np.isfinite(self.lo_)) or np.any(np.isfinite(self.hi_)))
        lo = np.where(np.isfinite(self.lo_), self.lo_, f32.min).astype(np.float32)
        hi = np.where(np.isfinite(self.hi_), self.hi_, f32.max).astype(np.float32)
        center = np.asarray(self.center_, dtype=np.float32)
        scale = np.asarray(self.scale_, dtype=np.float32)
        return lo, hi, center, scale, clip

    def fit_transform(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> NDArray[Any]:
        return self.fit(X, sample_weight).transform(X)

    def inverse_transform(self, Z: ArrayLike) -> NDArray[Any]:
        """Undo centring and scaling (clipping cannot be undone)."""
        self._check_fitted()
        arr_in = np.asarray(Z)
        out_dtype = np.float32 if arr_in.dtype == np.float32 else np.float64
        arr = self._as_2d(arr_in)
        return (arr * self.scale_ + self.center_).astype(out_dtype, copy=False)

    # -- JSON state ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (infinite clip bounds are written as ``null``)."""
        d: dict[str, Any] = {
            "format": SCALER_FORMAT,
            "kind": self.kind,
            "clip_quantile": self.clip_quantile,
        }
        if hasattr(self, "center_"):

            def bounds(a: NDArray[np.float64]) -> list[float | None]:
                return [float(v) if np.isfinite(v) else None for v in a]

            d.update(
                center=[float(v) for v in self.center_],
                scale=[float(v) for v in self.scale_],
                lo=bounds(self.lo_),
                hi=bounds(self.hi_),
            )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        """Rebuild a Scaler written by :meth:`to_dict`."""
        if not isinstance(d, dict) or d.get("format") != SCALER_FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise DataError(f"scaler state has format {got!r}; expected '{SCALER_FORMAT}'")
        obj = cls(d["kind"], clip_quantile=d.get("clip_quantile"))
        if "center" in d:
            center = np.asarray(d["center"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
            lo = np.array([-np.inf if v is None else v for v in d["lo"]], dtype=np.float64)
            hi = np.array([np.inf if v is None else v for v in d["hi"]], dtype=np.float64)
            if not (center.shape == scale.shape == lo.shape == hi.shape) or center.ndim != 1:
                raise DataError("scaler state: center/scale/lo/hi lengths differ")
            obj.center_, obj.scale_, obj.lo_, obj.hi_ = center, scale, lo, hi
            obj.n_features_in_ = int(center.size)
        return obj
