"""``set-kernel``: a support vector machine on the pyramid-match kernel of object sets.

The kernel (Grauman & Darrell, "The pyramid match kernel", ICCV 2005) compares two events
through their objects, whatever their number and order. Each present object is a point in a
box of ``len(fields)`` coordinates (by default fields 0, 1, 2 of the object values: for
hepsift's object inputs log pt, eta and phi relative to the diphoton system); the box spans the training objects' range per
coordinate (learned at fit, saved with the model; values outside are clipped to the edge
bins). Level ``j = 0 .. levels-1`` cuts every coordinate into ``2**j`` bins; with
``type_fields`` (the one-hot type columns ``is_photon``, ``is_jet``...; the type of an object is
the column holding its largest value) the objects of different types sit in separate
histograms, so they never match. ``I_j(x, y) = sum_b min(H_j(x)[b], H_j(y)[b])`` counts the
objects matched at level ``j``; matches first found at a finer level weigh more:

    K(x, y) = sum_j w_j (I_j - I_{j+1}),   w_j = 2**-(levels-1-j),   I_levels = 0
            = sum_j c_j I_j,   c_0 = 2**-(levels-1),  c_j = 2**-(levels-j) (j >= 1),  sum c_j = 1

and it is normalised, ``K(x, y) / sqrt(K(x, x) K(y, y))`` with ``K(x, x) = |x|`` (the number of
objects of ``x``); an event without objects has kernel 0 with every event.

The histogram intersection is computed exactly as a dot product: ``min(a, b) = sum_{t >= 1}
[a >= t][b >= t]`` for counts, so with the feature map ``phi(x) = concat_j,t sqrt(c_j)
[H_j(x) >= t]`` (``t`` up to the largest count of a training histogram bin at that level:
a larger count cannot match more) ``K = phi(x) . phi(y)`` — sparse matrix products, and the
kernel is positive semi-definite by construction.

The classifier: one scikit-learn ``SVC(kernel="precomputed")`` per class against the rest (one
for two classes), each seeing its two sides at equal total training weight (the event weights
after the ``negative_weights`` / ``class_weight`` policy, as ``sample_weight``); their decision
values are turned into probabilities by a multinomial logistic regression fitted on
out-of-fold decision values (``calibration_folds`` folds of the training events, the same
kernel matrix sliced). The event-level features ``X`` are not used (any number of columns,
zero included, is accepted and checked for its count only).

Memory: the training kernel matrix is N x N float64 (128 MB at N = 4000) plus one copy per
calibration fold's slice; time grows as N^2 (kernel) to N^2..N^3 (libsvm). ``fit`` refuses more
than ``max_train_events`` (default 4000) training events with a one-line error saying why:
subsample (the run/study does) or raise the limit knowingly.

Saved state (``model.json`` + ``setkernel.npz``, no pickle): the coordinate box, the count
caps per level, the support sets' feature maps (CSR arrays), the dual coefficients and
intercepts of the SVCs and the calibration's coefficients. Prediction computes the kernel
between the new sets and the support sets. The ONNX graph (inputs ``X``, ``values``, ``mask``)
builds the same histograms with ONNX operators (Where, Floor, OneHot, ReduceSum,
GreaterOrEqual, MatMul) and folds the support sets into one weight matrix
``phi(SV)^T dual`` (the kernel is linear in ``phi``), in double precision.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError, ModelError, suggest
from hepsift.models.base import Classifier, check_features, payload_path, read_npz

__all__ = ["DEFAULT_MAX_TRAIN_EVENTS", "SetKernelSVM", "pyramid_kernel"]

#: the default ``max_train_events``: a 4000 x 4000 float64 kernel matrix is 128 MB
DEFAULT_MAX_TRAIN_EVENTS = 4000
_PAYLOAD = "setkernel.npz"
#: the largest number of object types (``type_fields``)
MAX_TYPES = 64
_CHUNK = 8192


def _check_objects(objects: Any, n: int, where: str) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """``objects=(values, mask)`` checked: float (n, slots, fields), bool (n, slots)."""
    try:
        raw_values, raw_mask = objects
    except (TypeError, ValueError):
        raise DataError(
            f"set-kernel {where} needs objects=(values, mask): values float (n, slots, fields), "
            "mask bool (n, slots)"
        ) from None
    values = np.asarray(raw_values, dtype=np.float32)
    mask = np.asarray(raw_mask)
    if values.ndim != 3 or mask.shape != values.shape[:2] or values.shape[0] != n:
        raise DataError(
            f"set-kernel {where}: objects values have shape {values.shape} and mask "
            f"{mask.shape}; expected ({n}, slots, fields) and ({n}, slots)"
        )
    if mask.dtype != np.bool_:
        raise DataError(f"set-kernel {where}: the objects mask must be bool, got {mask.dtype}")
    present = values[mask]
    if present.size and not np.all(np.isfinite(present)):
        raise DataError(
            f"set-kernel {where}: present objects hold NaN or inf values (mark absent slots "
            "in the mask instead)"
        )
    return values, mask


def level_weights(levels: int) -> NDArray[np.float64]:
    """``c_j``, the weight of the intersection at level ``j`` (coarse to fine; sum 1)."""
    c = np.array([2.0 ** -(levels - j) for j in range(levels)])
    c[0] = 2.0 ** -(levels - 1)
    return c


class _Pyramid:
    """The learned histogram geometry: coordinate box, types, count caps per level."""

    def __init__(
        self,
        fields: tuple[int, ...],
        type_fields: tuple[int, ...],
        levels: int,
        lo: NDArray[np.float32],
        inv_width: NDArray[np.float32],
        n_types: int,
        caps: NDArray[np.int64],
    ) -> None:
        self.fields = fields
        self.type_fields = type_fields
        self.levels = levels
        self.lo = lo.astype(np.float32)
        self.inv_width = inv_width.astype(np.float32)
        self.n_types = n_types
        self.caps = caps.astype(np.int64)
        self.weights = level_weights(levels)

    @property
    def dims(self) -> int:
        return len(self.fields)

    def bins(self, j: int) -> int:
        return int(self.n_types * (2**j) ** self.dims)

    def width(self) -> int:
        """Columns of the feature map."""
        return int(sum(self.bins(j) * int(self.caps[j]) for j in range(self.levels)))

    def bin_index(
        self, values: NDArray[np.float32], mask: NDArray[Any], j: int
    ) -> NDArray[np.int64]:
        """The bin of every slot at level ``j`` (float32 arithmetic, as the ONNX graph)."""
        v = np.where(mask[..., None], values, np.float32(0.0))
        z = (v[..., list(self.fields)] - self.lo) * self.inv_width
        z = np.clip(z, np.float32(0.0), np.float32(1.0))
        n = 2**j
        idx = np.minimum(np.floor(z * np.float32(n)), np.float32(n - 1)).astype(np.int64)
        strides = (n ** np.arange(self.dims)).astype(np.int64)
        out = idx @ strides
        if self.type_fields:
            out = out + self.type_index(v) * n**self.dims
        return np.asarray(out, dtype=np.int64)

    def type_index(self, v: NDArray[np.float32]) -> NDArray[np.int64]:
        """The type of every slot: the type column holding its largest value (first on ties)."""
        return np.asarray(np.argmax(v[..., list(self.type_fields)], axis=-1), dtype=np.int64)

    def counts(self, values: NDArray[np.float32], mask: NDArray[Any], j: int) -> Any:
        """Histogram counts at level ``j``: a scipy CSR (n, bins(j)) of integers."""
        from scipy import sparse

        n = values.shape[0]
        b = self.bin_index(values, mask, j)
        rows = np.broadcast_to(np.arange(n)[:, None], b.shape)[mask]
        ones = np.ones(rows.shape[0], dtype=np.int64)
        return sparse.csr_matrix((ones, (rows, b[mask])), shape=(n, self.bins(j)))

    def features(self, values: NDArray[np.float32], mask: NDArray[Any]) -> Any:
        """``phi`` normalised by ``1/sqrt(|x|)``: a CSR (n, width) float64."""
        from scipy import sparse

        blocks = []
        for j in range(self.levels):
            h = self.counts(values, mask, j)
            h.sum_duplicates()
            cap = int(self.caps[j])
            scale = math.sqrt(float(self.weights[j]))
            for t in range(1, cap + 1):
                hit = (h >= t).astype(np.float64) * scale
                blocks.append(hit)
        phi = sparse.hstack(blocks, format="csr", dtype=np.float64)
        n_obj = mask.sum(axis=1).astype(np.float64)
        inv = 1.0 / np.sqrt(np.maximum(n_obj, 1.0))
        return sparse.diags(inv) @ phi

    def state(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "type_fields": list(self.type_fields),
            "levels": self.levels,
            "n_types": self.n_types,
            "caps": [int(c) for c in self.caps],
        }


def _learn_pyramid(
    values: NDArray[np.float32],
    mask: NDArray[Any],
    fields: tuple[int, ...],
    type_fields: tuple[int, ...],
    levels: int,
) -> _Pyramid:
    present = values[mask]
    if present.shape[0] == 0:
        raise DataError("set-kernel fit: no training event has any object (the mask is all False)")
    coords = present[:, list(fields)]
    lo = coords.min(axis=0)
    span = coords.max(axis=0) - lo
    inv = np.where(span > 0, 1.0 / np.where(span > 0, span, 1.0), 1.0).astype(np.float32)
    n_types = max(1, len(type_fields))
    geo = _Pyramid(fields, type_fields, levels, lo, inv, n_types, np.ones(levels, dtype=np.int64))
    caps = []
    for j in range(levels):
        h = geo.counts(values, mask, j)
        h.sum_duplicates()
        caps.append(int(h.max()) if h.nnz else 1)
    geo.caps = np.maximum(np.asarray(caps, dtype=np.int64), 1)
    return geo


def pyramid_kernel(
    a: Any,
    b: Any = None,
    *,
    fields: tuple[int, ...] = (0, 1, 2),
    type_fields: tuple[int, ...] = (),
    levels: int = 4,
) -> NDArray[np.float64]:
    """The normalised pyramid-match kernel between the object sets ``a`` and ``b`` (default
    ``a``), each ``(values, mask)``; the box and count caps are learned on ``a`` (and ``b``)."""
    va, ma = _check_objects(a, _n_events(a), "kernel")
    vb, mb = (va, ma) if b is None else _check_objects(b, _n_events(b), "kernel")
    slots = max(va.shape[1], vb.shape[1])
    both_v = np.concatenate([_pad(va, slots), _pad(vb, slots)])
    both_m = np.concatenate([_pad(ma, slots), _pad(mb, slots)])
    geo = _learn_pyramid(both_v, both_m, tuple(fields), tuple(type_fields), levels)
    fa = geo.features(va, ma)
    fb = fa if b is None else geo.features(vb, mb)
    return np.asarray((fa @ fb.T).toarray(), dtype=np.float64)


def _n_events(objects: Any) -> int:
    """The number of events of a ``(values, mask)`` pair (-1 when it is not one)."""
    try:
        return int(np.shape(next(iter(objects)))[0])
    except (TypeError, StopIteration, IndexError):
        return -1


def _pad(arr: NDArray[Any], slots: int) -> NDArray[Any]:
    if arr.shape[1] == slots:
        return arr
    pad = [(0, 0), (0, slots - arr.shape[1])] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, pad)


def _kernel_bytes(n: int) -> int:
    return 8 * n * n


class SetKernelSVM(Classifier):
    """Support vector machine on the pyramid-match kernel of object sets (module docstring).

    Parameters
    ----------
    fields : the object value fields that are the histogram coordinates, as indices or, for
        named object inputs (``ObjectInputs``), names (default (0, 1, 2): log pt, eta, phi in
        hepsift's object inputs).
    type_fields : the one-hot object-type fields (indices or names such as ``is_photon``;
        separate histograms per type: an object's type is the column holding its largest
        value), or () for all objects alike.
    levels : pyramid levels; level j has 2**j bins per coordinate (default 4: 1 to 8 bins).
    C : the SVM's regularisation (larger: fewer training errors, narrower margin).
    max_train_events : the most training events ``fit`` takes (the kernel matrix is N^2).
    calibration_folds : folds of the out-of-fold decision values the probabilities are
        calibrated on.
    class_weight, negative_weights : the training-weight policy (as the other families).
    seed : the fold assignment.
    """

    family: ClassVar[str] = "set-kernel"
    inputs: ClassVar[frozenset[str]] = frozenset({"table", "objects"})
    seed_param: ClassVar[str | None] = "seed"
    #: its coordinate box is learned on the training objects (its own scaling) and X is not
    #: used: a run never wraps it in Scaled
    scales_inputs: ClassVar[bool] = True
    #: phi(SV)^T dual, derived from the support sets on first use
    support_weight_: NDArray[np.float64] | None

    def __init__(
        self,
        *,
        fields: tuple[int, ...] = (0, 1, 2),
        type_fields: tuple[int, ...] = (),
        levels: int = 4,
        C: float = 1.0,
        max_train_events: int = DEFAULT_MAX_TRAIN_EVENTS,
        calibration_folds: int = 3,
        class_weight: Any = None,
        negative_weights: str = "abs",
        seed: int = 0,
    ) -> None:
        self.fields = fields
        self.type_fields = type_fields
        self.levels = levels
        self.C = C
        self.max_train_events = max_train_events
        self.calibration_folds = calibration_folds
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.seed = seed

    # -- validation ------------------------------------------------------------------------
    def _validate_X(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float64]:
        """``X`` (n, d), zero columns allowed (the event features are not used)."""
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"Expected 2D array, got an array of shape {arr.shape} instead")
        check_features(arr, family=self.family)
        self._check_n_features(arr, reset=reset)
        return arr

    def _check_fields(
        self, n_fields: int, names: tuple[str, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(coordinate fields, type fields) as indices; a name is looked up in the objects'
        field names (``ObjectInputs.fields``: ``log_pt``, ``is_jet``...)."""

        def index(f: Any, what: str) -> int:
            if isinstance(f, str):
                if f not in names:
                    raise ConfigError(
                        f"set-kernel {what}: no object field '{f}'{suggest(f, names)} "
                        f"(fields: {', '.join(names) or 'unnamed: give indices'})"
                    )
                return names.index(f)
            return int(f)

        fields = tuple(index(f, "fields") for f in self.fields)
        types = tuple(index(f, "type_fields") for f in self.type_fields)
        bad = [f for f in (*fields, *types) if not 0 <= f < n_fields]
        if not fields or bad:
            raise ConfigError(
                f"set-kernel: fields {list(fields)} / type_fields {list(types)} name object "
                f"fields {bad or '(none)'} that do not exist (the objects have {n_fields} fields:"
                f" 0..{n_fields - 1})"
            )
        return fields, types

    # -- fit -------------------------------------------------------------------------------
    def fit(  # type: ignore[override]
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        objects: Any = None,
        **fit_params: Any,
    ) -> SetKernelSVM:
        """Train on the object sets ``objects=(values, mask)`` of the events of ``X``/``y``."""
        self._check_fit_keywords(fit_params)
        if objects is None:
            raise DataError("set-kernel fit needs objects=(values, mask)")
        n = int(np.shape(y)[0]) if np.ndim(y) else 0
        limit = int(self.max_train_events)
        if n > limit:
            raise ConfigError(
                f"set-kernel: {n} training events exceed max_train_events={limit}: the "
                f"precomputed kernel needs N^2 memory ({_kernel_bytes(n) / 1e6:.0f} MB at "
                f"N={n}, more per calibration fold) and libsvm time grows faster; subsample "
                "the training events or raise max_train_events"
            )
        super().fit(X, y, sample_weight, objects=objects)
        return self

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        values, mask = _check_objects(fit_params.get("objects"), X.shape[0], "fit")
        names = tuple(str(f) for f in getattr(fit_params.get("objects"), "fields", ()) or ())
        fields, types = self._check_fields(values.shape[2], names)
        self.n_slots_ = int(values.shape[1])
        self.n_fields_ = int(values.shape[2])
        geo = _learn_pyramid(values, mask, fields, types, int(self.levels))
        phi = geo.features(values, mask)
        gram = np.asarray((phi @ phi.T).toarray(), dtype=np.float64)
        wt = self._training_weights(y, w)
        wt = wt / max(float(np.mean(wt)), 1e-300)
        n_classes = len(self.classes_)
        rng = np.random.default_rng(int(self.seed))
        folds = _folds(y, int(self.calibration_folds), rng)
        decisions = np.zeros((len(y), 1 if n_classes == 2 else n_classes))
        for k in range(int(self.calibration_folds)):
            test = folds == k
            train = ~test
            if len(np.unique(y[train])) < n_classes:
                raise DataError(
                    "set-kernel fit: a calibration fold lacks a class; give more events of "
                    "every class or fewer calibration_folds"
                )
            svcs = _fit_svcs(gram[np.ix_(train, train)], y[train], wt[train], n_classes, self.C)
            decisions[test] = _decide(gram[np.ix_(test, train)], svcs)
        self.calibration_coef_, self.calibration_intercept_ = _calibrate(
            decisions, y, wt, n_classes
        )
        svcs = _fit_svcs(gram, y, wt, n_classes, self.C)
        support = np.unique(np.concatenate([s.support_ for s in svcs]))
        dual = np.zeros((support.size, len(svcs)))
        for c, s in enumerate(svcs):
            dual[np.searchsorted(support, s.support_), c] = s.dual_coef_[0]
        self.support_features_ = phi[support].tocsr()
        self.dual_coef_ = dual
        self.intercept_ = np.array([float(s.intercept_[0]) for s in svcs])
        self.pyramid_ = geo
        self.n_support_ = int(support.size)
        self.support_weight_ = None

    # -- predict ---------------------------------------------------------------------------
    def _objects_checked(self, objects: Any) -> tuple[NDArray[np.float32], NDArray[Any]]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        values, mask = _check_objects(objects, _n_events(objects), "predict")
        if values.shape[2] != self.n_fields_:
            raise DataError(
                f"set-kernel predict: objects have {values.shape[2]} fields; the model was "
                f"trained with {self.n_fields_}"
            )
        return values, mask

    def kernel_to_support(self, objects: Any) -> NDArray[np.float64]:
        """The normalised pyramid-match kernel (n, n_support) between the sets ``objects`` and
        the support sets kept from training."""
        values, mask = self._objects_checked(objects)
        phi = self.pyramid_.features(values, mask)
        return np.asarray((phi @ self.support_features_.T).toarray(), dtype=np.float64)

    def decision_values(self, objects: Any) -> NDArray[np.float64]:
        """The SVMs' decision values (n, 1 or classes): ``sum_i dual_i K(x, sv_i) + b``.

        Computed as ``phi(x) . (sum_i dual_i phi(sv_i)) + b`` (the kernel is the dot product
        of the explicit feature map, :meth:`kernel_to_support` @ ``dual_coef_`` is the same
        number) so that prediction costs O(objects), not O(support sets)."""
        values, mask = self._objects_checked(objects)
        weight = self._support_weight()
        out = np.empty((values.shape[0], self.dual_coef_.shape[1]))
        for start in range(0, values.shape[0], _CHUNK):
            rows = slice(start, start + _CHUNK)
            phi = self.pyramid_.features(values[rows], mask[rows])
            out[rows] = np.asarray(phi @ weight) + self.intercept_
        return out

    def _support_weight(self) -> NDArray[np.float64]:
        """``phi(SV)^T dual`` (width, n_decisions), derived from the saved support sets."""
        weight = getattr(self, "support_weight_", None)
        if weight is None:
            weight = np.asarray(self.support_features_.T @ self.dual_coef_, dtype=np.float64)
            self.support_weight_ = weight
        return np.asarray(weight)

    def predict_proba(  # type: ignore[override]
        self, X: ArrayLike, *, objects: Any = None
    ) -> NDArray[np.float64]:
        """Class probabilities (n, classes) of the events with object sets ``objects``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        Xv = self._validate_X(X, reset=False)
        if objects is None:
            raise DataError("set-kernel predict_proba needs objects=(values, mask)")
        decisions = self.decision_values(objects)
        if decisions.shape[0] != Xv.shape[0]:
            raise DataError(
                f"set-kernel predict_proba: objects hold {decisions.shape[0]} events, "
                f"X {Xv.shape[0]}"
            )
        logits = decisions @ self.calibration_coef_
        logits = logits + self.calibration_intercept_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)

    def predict(  # type: ignore[override]
        self, X: ArrayLike, *, objects: Any = None
    ) -> NDArray[Any]:
        proba = self.predict_proba(X, objects=objects)
        return np.asarray(np.asarray(self.classes_)[np.argmax(proba, axis=1)])

    def decision_score(  # type: ignore[override]
        self, X: ArrayLike, *, objects: Any = None
    ) -> NDArray[np.float64]:
        return self.predict_proba(X, objects=objects)[:, -1]

    def score(  # type: ignore[override]
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, *, objects: Any
    ) -> float:
        pred = self.predict(X, objects=objects)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return float(np.average(pred == np.asarray(y), weights=w))

    # -- files -----------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        from hepsift._files import atomic_write_bytes

        sv = self.support_features_
        arrays = {
            "lo": self.pyramid_.lo,
            "inv_width": self.pyramid_.inv_width,
            "sv_data": sv.data,
            "sv_indices": sv.indices.astype(np.int64),
            "sv_indptr": sv.indptr.astype(np.int64),
            "dual_coef": self.dual_coef_,
            "intercept": self.intercept_,
            "calibration_coef": self.calibration_coef_,
            "calibration_intercept": self.calibration_intercept_,
        }
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        atomic_write_bytes(directory / _PAYLOAD, buf.getvalue())
        return {
            "payload": _PAYLOAD,
            "pyramid": self.pyramid_.state(),
            "n_slots": self.n_slots_,
            "n_fields": self.n_fields_,
            "n_support": self.n_support_,
        }

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from scipy import sparse

        arrays = read_npz(payload_path(directory, state["payload"]), "set-kernel state")
        geo_state = state["pyramid"]
        levels = int(geo_state["levels"])
        caps = np.asarray(geo_state["caps"], dtype=np.int64)
        geo = _Pyramid(
            tuple(int(f) for f in geo_state["fields"]),
            tuple(int(f) for f in geo_state["type_fields"]),
            levels,
            np.asarray(arrays["lo"], dtype=np.float32),
            np.asarray(arrays["inv_width"], dtype=np.float32),
            int(geo_state["n_types"]),
            caps,
        )
        n_fields = int(state["n_fields"])
        used = (*geo.fields, *geo.type_fields)
        if (
            not 1 <= levels <= 8
            or geo.n_types != max(1, len(geo.type_fields))
            or geo.n_types > MAX_TYPES
            or caps.shape != (levels,)
            or caps.min() < 1
            or geo.lo.shape != (geo.dims,)
            or geo.inv_width.shape != (geo.dims,)
            or not all(0 <= f < n_fields for f in used)
            or geo.width() > 50_000_000
        ):
            raise ModelError(
                "set-kernel state: levels, caps, types, coordinate box or fields are out of range"
            )
        n_sv = int(state["n_support"])
        sv = sparse.csr_matrix(
            (arrays["sv_data"], arrays["sv_indices"], arrays["sv_indptr"]),
            shape=(n_sv, geo.width()),
        )
        sv.check_format(full_check=True)
        dual = np.asarray(arrays["dual_coef"], dtype=np.float64)
        n_dec = 1 if len(self.classes_) == 2 else len(self.classes_)
        if dual.shape != (n_sv, n_dec):
            raise ModelError(f"set-kernel state: dual_coef has shape {dual.shape}")
        coef = np.asarray(arrays["calibration_coef"], dtype=np.float64)
        if coef.shape != (n_dec, len(self.classes_)):
            raise ModelError(f"set-kernel state: calibration_coef has shape {coef.shape}")
        self.pyramid_ = geo
        self.support_features_ = sv
        self.dual_coef_ = dual
        self.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64).reshape(n_dec)
        self.calibration_coef_ = coef
        self.calibration_intercept_ = np.asarray(
            arrays["calibration_intercept"], dtype=np.float64
        ).reshape(len(self.classes_))
        self.n_slots_ = int(state["n_slots"])
        self.n_fields_ = int(state["n_fields"])
        self.n_support_ = n_sv
        self.support_weight_ = None

    # -- ONNX ------------------------------------------------------------------------------
    def _onnx_proto(self) -> Any:
        weight = self._support_weight()
        return setkernel_graph(
            self.pyramid_,
            weight=weight,
            intercept=self.intercept_,
            calibration_coef=self.calibration_coef_,
            calibration_intercept=self.calibration_intercept_,
            n_features=int(self.n_features_in_),
            n_fields=int(self.n_fields_),
        )


def _folds(y: NDArray[np.int64], k: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Stratified fold numbers 0..k-1."""
    folds = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        folds[idx] = np.arange(idx.size) % k
    return folds


def _fit_svcs(
    gram: NDArray[np.float64],
    y: NDArray[np.int64],
    w: NDArray[np.float64],
    n_classes: int,
    C: float,
) -> list[Any]:
    """One precomputed-kernel SVC per class against the rest (one for two classes), each
    with its two sides at equal total weight."""
    from sklearn.svm import SVC

    targets = [1] if n_classes == 2 else list(range(n_classes))
    svcs = []
    for c in targets:
        pos = y == c
        wb = w.copy()
        tot_pos, tot_neg = float(wb[pos].sum()), float(wb[~pos].sum())
        if tot_pos <= 0 or tot_neg <= 0:
            raise DataError(f"set-kernel fit: class {c} or the rest has no training weight")
        total = float(w.sum())
        wb[pos] *= 0.5 * total / tot_pos
        wb[~pos] *= 0.5 * total / tot_neg
        svc = SVC(kernel="precomputed", C=float(C))
        svc.fit(gram, pos.astype(np.int64), sample_weight=wb)
        svcs.append(svc)
    return svcs


def _decide(kernel: NDArray[np.float64], svcs: list[Any]) -> NDArray[np.float64]:
    return np.column_stack([s.decision_function(kernel) for s in svcs])


def _calibrate(
    decisions: NDArray[np.float64], y: NDArray[np.int64], w: NDArray[np.float64], n_classes: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Multinomial logistic map decision values -> class logits: (coef (d, classes),
    intercept (classes,))."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=100.0, max_iter=1000)
    lr.fit(decisions, y, sample_weight=w)
    if n_classes == 2:
        coef = np.zeros((1, 2))
        coef[0, 1] = float(lr.coef_[0, 0])
        return coef, np.array([0.0, float(lr.intercept_[0])])
    return np.asarray(lr.coef_.T, dtype=np.float64), np.asarray(lr.intercept_, dtype=np.float64)


class _Graph:
    """A tiny ONNX graph builder: named initialisers and nodes."""

    def __init__(self) -> None:
        self.inits: list[Any] = []
        self.nodes: list[Any] = []

    def const(self, name: str, arr: Any) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op: str, ins: list[str], out: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out


_F32 = np.float32


def _graph_inputs(g: _Graph, geo: _Pyramid) -> None:
    """``v`` (absent slots zeroed), ``z`` (coordinates in the unit box), ``maskf3``, ``tidx``."""
    from onnx import TensorProto

    g.node("Unsqueeze", ["mask", g.const("ax_m1", np.array([-1], dtype=np.int64))], "mask3")
    g.node("Where", ["mask3", "values", g.const("zero", np.array(0.0, dtype=_F32))], "v")
    fields = g.const("fields", np.array(geo.fields, dtype=np.int64))
    g.node("Gather", ["v", fields], "coords", axis=2)
    g.node("Sub", ["coords", g.const("lo", geo.lo.astype(_F32))], "shifted")
    g.node("Mul", ["shifted", g.const("inv_width", geo.inv_width.astype(_F32))], "z0")
    lo, hi = g.const("z_lo", np.array(0.0, _F32)), g.const("z_hi", np.array(1.0, _F32))
    g.node("Clip", ["z0", lo, hi], "z")
    g.node("Cast", ["mask"], "maskf", to=TensorProto.FLOAT)
    g.node("Unsqueeze", ["maskf", "ax_m1"], "maskf3")
    if geo.type_fields:
        tfields = g.const("tfields", np.array(geo.type_fields, dtype=np.int64))
        g.node("Gather", ["v", tfields], "t0", axis=2)
        g.node("ArgMax", ["t0"], "t1", axis=-1, keepdims=0)
        g.node("Cast", ["t1"], "tidx", to=TensorProto.FLOAT)


def _graph_level(g: _Graph, geo: _Pyramid, j: int) -> str:
    """The thresholded, weighted histogram of level ``j`` (n, caps[j] * bins(j))."""
    from onnx import TensorProto

    n = 2**j
    g.node("Mul", ["z", g.const(f"n{j}", np.array(n, dtype=_F32))], f"zs{j}")
    g.node("Floor", [f"zs{j}"], f"fl{j}")
    g.node("Min", [f"fl{j}", g.const(f"nm{j}", np.array(n - 1, dtype=_F32))], f"idx{j}")
    strides = (n ** np.arange(geo.dims)).astype(_F32)
    g.node("Mul", [f"idx{j}", g.const(f"st{j}", strides)], f"idxs{j}")
    last = g.node("ReduceSum", [f"idxs{j}", "ax_m1"], f"bin{j}", keepdims=0)
    if geo.type_fields:
        offset = g.const(f"ts{j}", np.array(n**geo.dims, dtype=_F32))
        g.node("Mul", ["tidx", offset], f"toff{j}")
        last = g.node("Add", [last, f"toff{j}"], f"bint{j}")
    g.node("Cast", [last], f"bini{j}", to=TensorProto.INT64)
    depth = g.const(f"depth{j}", np.array([geo.bins(j)], dtype=np.int64))
    onehot_vals = g.const(f"ohv{j}", np.array([0.0, 1.0], dtype=_F32))
    g.node("OneHot", [f"bini{j}", depth, onehot_vals], f"oh{j}", axis=-1)
    g.node("Mul", [f"oh{j}", "maskf3"], f"ohm{j}")
    axis1 = g.const(f"ax1_{j}", np.array([1], dtype=np.int64))
    g.node("ReduceSum", [f"ohm{j}", axis1], f"cnt{j}", keepdims=1)  # (n, 1, bins)
    thr = np.arange(1, int(geo.caps[j]) + 1, dtype=_F32).reshape(-1, 1)
    g.node("GreaterOrEqual", [f"cnt{j}", g.const(f"thr{j}", thr)], f"ge{j}")  # (n, T, bins)
    g.node("Cast", [f"ge{j}"], f"gef{j}", to=TensorProto.FLOAT)
    shape = g.const(f"shape{j}", np.array([0, -1], dtype=np.int64))
    g.node("Reshape", [f"gef{j}", shape], f"flat{j}")  # column t * bins + b, as features()
    scale = g.const(f"c{j}", np.array(math.sqrt(float(geo.weights[j])), dtype=_F32))
    return g.node("Mul", [f"flat{j}", scale], f"phi{j}")


def setkernel_graph(
    geo: _Pyramid,
    *,
    weight: NDArray[np.float64],
    intercept: NDArray[np.float64],
    calibration_coef: NDArray[np.float64],
    calibration_intercept: NDArray[np.float64],
    n_features: int,
    n_fields: int,
) -> Any:
    """The ONNX graph of a fitted set kernel: inputs ``X`` float32 (n, d) (unused),
    ``values`` float32 (n, slots, fields), ``mask`` bool (n, slots); output ``probabilities``
    float32 (n, classes). Histograms as in :meth:`_Pyramid.features`, then the support sets
    folded into ``weight`` = phi(SV)^T dual (float64)."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    _graph_inputs(g, geo)
    feats = [_graph_level(g, geo, j) for j in range(geo.levels)]
    g.node("Concat", feats, "phi", axis=1)
    g.node("ReduceSum", ["maskf", g.const("ax1", np.array([1], np.int64))], "nobj", keepdims=1)
    g.node("Max", ["nobj", g.const("one", np.array(1.0, dtype=_F32))], "nobj1")
    g.node("Sqrt", ["nobj1"], "norm")
    g.node("Div", ["phi", "norm"], "phin")
    g.node("Cast", ["phin"], "phid", to=TensorProto.DOUBLE)
    g.node("MatMul", ["phid", g.const("weight", weight.astype(np.float64))], "dec0")
    g.node("Add", ["dec0", g.const("intercept", intercept.astype(np.float64))], "dec")
    g.node("MatMul", ["dec", g.const("cal_coef", calibration_coef.astype(np.float64))], "log0")
    cal_b = g.const("cal_b", calibration_intercept.astype(np.float64))
    g.node("Add", ["log0", cal_b], "logits")
    g.node("Softmax", ["logits"], "probd", axis=1)
    g.node("Cast", ["probd"], "probabilities", to=TensorProto.FLOAT)
    n_classes = int(calibration_coef.shape[1])
    graph = helper.make_graph(
        g.nodes,
        "hepsift-set-kernel",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", n_features]),
            helper.make_tensor_value_info("values", TensorProto.FLOAT, ["n", "slots", n_fields]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, ["n", "slots"]),
        ],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", n_classes])],
        g.inits,
    )
    model = helper.make_model(
        graph, producer_name="hepsift", opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
