"""The contract every hepsift model follows, and the one fit preamble and file layer they share.

scikit-learn's estimator contract, whatever is inside: ``__init__`` only stores
hyperparameters; ``fit(X, y, sample_weight=None, *, eval_set=None, **inputs) -> self``;
``predict_proba``; ``predict``; learned state ends in ``_``. On top of that:

- ``save(path)`` writes a *directory* atomically (temporary sibling + rename): ``model.json``
  (format, family, hyperparameters, classes, feature count, the family's own JSON state) plus the
  family's payload files in safe formats only (NPZ loaded with ``allow_pickle=False``, XGBoost
  JSON, torch tensors as safetensors); payload names are plain names inside the folder.
  ``hepsift.models.load(path)`` reads any of them back; no file is ever unpickled.
- ``to_onnx(path)`` for every family, through :func:`hepsift.export.export_onnx` (the family
  provides ``_onnx_proto()``).

Capabilities (class attributes; callers read these, never the family's name)
-----------------------------------------------------------------------------
``inputs``
    the inputs ``fit``/``predict_proba`` take: a subset of ``{"table", "param", "objects",
    "images"}``; every input other than ``table`` (the feature matrix ``X``) is a keyword
    argument of that name (``param=``), and with an ``eval_set`` its validation counterpart is
    ``eval_<name>=`` (``eval_param=``). ``parametric`` is ``"param" in inputs``.
``supports_eval_set``
    ``fit`` accepts ``eval_set=(X_val, y_val[, w_val])`` (early stopping, validation curves).
``scales_inputs``
    the family fits its own input scaler (saved with it, part of its ONNX graph): callers give
    it raw features and never wrap it in :class:`hepsift.models.Scaled`.
``reports_epochs``
    ``fit`` accepts ``on_epoch=callback(epoch, history)`` called after every epoch (Optuna
    pruning); a callback may raise to stop training.
``seed_param`` / ``progress_param``
    the name of the hyperparameter holding the random seed / the progress-bar switch, or
    ``None`` when the family has none. A caller passes the run's seed as
    ``create(family, **{cls.seed_param: seed})`` without probing signatures.

Subclasses implement ``_fit``, ``_predict_proba`` (``_predict`` for regressors) and, to be
saveable, ``_get_state`` / ``_set_state``. The base classes do input validation, label
encoding, the training-weight policy, eval_set parsing and file handling.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from hepsift._files import atomic_write_text, dumps_json, file_mode, jsonable
from hepsift.errors import ConfigError, DataError, HepsiftError, ModelError, one_line, suggest

__all__ = [
    "INPUTS",
    "MODEL_FORMAT",
    "Classifier",
    "Model",
    "Regressor",
    "check_features",
    "is_model_dir",
    "read_model_meta",
    "read_npz",
    "write_model_dir",
]

MODEL_FORMAT = "hepsift-model/1"
META_FILE = "model.json"
#: every input a family may declare in ``inputs``
INPUTS = frozenset({"table", "param", "objects", "images"})

EvalSet = tuple[NDArray[np.float64], NDArray[Any], NDArray[np.float64]]


def _params_json(params: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as JSON; nested estimators are saved by their owner, not here."""
    return {k: jsonable(v) for k, v in params.items() if not isinstance(v, BaseEstimator)}


def _params_from_json(params: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`_params_json` for the flat values (lists -> tuples, "inf" -> inf);
    dict-valued hyperparameters are left to the family's ``_from_params``."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, dict):
            continue
        if isinstance(v, list):
            v = tuple(v)
        elif v in ("inf", "-inf"):
            v = float(v)
        out[k] = v
    return out


class Model(BaseEstimator):  # type: ignore[misc]
    """What classifiers and regressors share: capabilities, validation, the fit preamble and
    the saved-model folder (see the module docstring)."""

    #: registry name of the family (``logistic``, ``bdt``, ``mlp``, ...)
    family: ClassVar[str] = ""
    #: every family exports to ONNX (kept for callers that still read it)
    onnx_supported: ClassVar[bool] = True
    inputs: ClassVar[frozenset[str]] = frozenset({"table"})
    supports_eval_set: ClassVar[bool] = False
    scales_inputs: ClassVar[bool] = False
    reports_epochs: ClassVar[bool] = False
    seed_param: ClassVar[str | None] = None
    progress_param: ClassVar[str | None] = None
    #: the family takes NaN features as missing values (XGBoost); the others refuse them
    allows_nan: ClassVar[bool] = False
    #: the optional install extra the family needs (``"torch"``), checked by
    #: :func:`hepsift.models.model_class` before the family is used (:mod:`hepsift.extras`)
    requires_extra: ClassVar[str | None] = None
    #: ``"param" in inputs`` (set for every subclass by ``__init_subclass__``)
    parametric: ClassVar[bool] = False
    #: the learned attribute that says the model is fitted
    _fitted_attr: ClassVar[str] = "n_features_in_"

    # -- to be implemented by the families ---------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        """Write payload files into ``directory``; return JSON-able state for ``model.json``."""
        raise ModelError(f"model family '{self.family or type(self).__name__}' cannot be saved")

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        raise ModelError(f"model family '{self.family or type(self).__name__}' cannot be loaded")

    def _meta(self) -> dict[str, Any]:
        """The family-kind part of ``model.json`` (classes, outputs)."""
        return {}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        """Inverse of :meth:`_meta` on a freshly built instance."""

    # -- capabilities ------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.inputs <= INPUTS or "table" not in cls.inputs:
            raise TypeError(
                f"{cls.__name__}.inputs {sorted(cls.inputs)} must hold 'table' "
                f"and only {sorted(INPUTS)}"
            )
        cls.parametric = "param" in cls.inputs

    @classmethod
    def fit_keywords(cls) -> frozenset[str]:
        """The keyword arguments ``fit`` accepts beyond ``sample_weight``."""
        extra = set(cls.inputs - {"table"})
        if cls.supports_eval_set:
            extra |= {"eval_set"} | {f"eval_{name}" for name in cls.inputs - {"table"}}
        if cls.reports_epochs:
            extra.add("on_epoch")
        return frozenset(extra)

    def _check_fit_keywords(self, fit_params: dict[str, Any]) -> None:
        """One line naming unknown ``fit`` keywords and the allowed ones (a keyword passed as
        None counts as not passed)."""
        allowed = self.fit_keywords()
        unknown = sorted(k for k, v in fit_params.items() if v is not None and k not in allowed)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}.fit got unknown arguments {unknown}"
                f"{suggest(unknown[0], sorted(allowed))} "
                f"(allowed: {', '.join(sorted(allowed)) or 'none'})"
            )

    # -- validation helpers ------------------------------------------------------------------
    def _validate_X(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float64]:
        arr = self._feature_array(X, dtype=np.float64)
        self._check_n_features(arr, reset=reset)
        return np.asarray(arr, dtype=np.float64)

    def _feature_array(self, X: ArrayLike, *, dtype: Any) -> Any:
        """``X`` as a 2-D float array; NaN only for families that take missing values
        (``allows_nan``), never inf; a DataError names the columns and the remedies."""
        from sklearn.utils.validation import check_array

        try:
            arr = check_array(X, dtype=dtype, ensure_all_finite=False, ensure_2d=True)
        except ValueError as exc:
            if isinstance(exc, HepsiftError) or "Expected 2D array" in str(exc):
                raise
            first = (str(exc).strip().splitlines() or ["not numbers"])[0][:200]
            raise DataError(
                f"X must hold numbers (one float column per feature): {first}"
            ) from None
        family = self.family or type(self).__name__
        check_features(arr, family=family, allow_nan=self.accepts_nan())
        return arr

    def accepts_nan(self) -> bool:
        """Whether this instance takes NaN features (the class's ``allows_nan``; a wrapper
        that imputes overrides it)."""
        return bool(self.allows_nan)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.accepts_nan()
        return tags

    def _check_n_features(self, arr: NDArray[Any], *, reset: bool) -> None:
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != getattr(self, "n_features_in_", arr.shape[1]):
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )

    @staticmethod
    def _sample_weight(sample_weight: ArrayLike | None, n: int) -> NDArray[np.float64]:
        """Weights (n,) checked: finite, right shape, not all zero (ones when None)."""
        if sample_weight is None:
            return np.ones(n, dtype=np.float64)
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(n, float(w))
        if w.shape != (n,):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},) to match X")
        if not np.all(np.isfinite(w)):
            raise DataError("sample_weight contains NaN or inf")
        if n and not np.any(w):
            # scikit-learn's check_all_zero_sample_weights_error
            raise DataError("all sample weights are zero; nothing to fit")
        return w

    def _eval_set(self, eval_set: Any, encode: Callable[[NDArray[Any]], NDArray[Any]]) -> EvalSet:
        """``(X_val, y_val[, w_val])`` checked; ``encode`` maps y_val to training targets."""
        if not isinstance(eval_set, tuple | list) or len(eval_set) not in (2, 3):
            raise DataError("eval_set must be a tuple (X_val, y_val) or (X_val, y_val, w_val)")
        Xv = np.asarray(eval_set[0], dtype=np.float64)
        n_features = int(self.n_features_in_)
        if Xv.ndim != 2 or Xv.shape[1] != n_features:
            raise DataError(f"eval_set X has shape {Xv.shape}; expected (n, {n_features})")
        check_features(
            Xv,
            family=self.family or type(self).__name__,
            allow_nan=self.accepts_nan(),
            name="eval_set X",
        )
        yv = encode(np.asarray(eval_set[1]))
        if yv.shape[0] != Xv.shape[0]:
            raise DataError(f"eval_set y has {yv.shape[0]} events; X has {Xv.shape[0]}")
        if len(eval_set) < 3 or eval_set[2] is None:
            wv = np.ones(Xv.shape[0])
        else:
            wv = np.asarray(eval_set[2], dtype=np.float64)
        if wv.shape != (Xv.shape[0],):
            raise DataError(f"eval_set weight has shape {wv.shape}; expected ({Xv.shape[0]},)")
        if not np.all(np.isfinite(wv)):
            raise DataError("eval_set weight contains NaN or inf")
        return Xv, yv, wv

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the fitted model to the directory ``path`` atomically.

        ``path`` may be new, an empty folder, or a model folder hepsift saved (replaced once the
        new one is complete). An existing file, or a folder holding anything else, is refused
        with a ModelError (``force=True`` replaces such a folder, never a file).
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, self._fitted_attr)

        def make_meta(tmp: Path) -> dict[str, Any]:
            state = self._get_state(tmp)
            return {
                "format": MODEL_FORMAT,
                "family": self.family,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": _params_json(self.get_params(deep=False)),
                "n_features_in": int(self.n_features_in_),
                **self._meta(),
                "state": jsonable(state),
            }

        return write_model_dir(path, make_meta, force=force)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a model written by :meth:`save` (any family; see :func:`hepsift.models.load`).

        ``model.json`` is checked against its schema, payload names must be plain files inside
        the folder, and the loaded model must give outputs of the declared shape (features,
        classes); anything else is one ModelError line.
        """
        directory = Path(path)
        meta = read_model_meta(directory)
        target_cls: type[Model] = cls
        if cls.family != meta.get("family") or not cls.family:
            from hepsift.models.registry import model_class

            target_cls = model_class(str(meta.get("family")))
        where = f"'{directory / META_FILE}'"
        try:
            model = target_cls._from_params(_params_from_json(dict(meta["params"])), meta)
            model.n_features_in_ = int(meta["n_features_in"])
            model._restore_meta(meta)
            state = meta["state"]
        except HepsiftError as exc:
            raise ModelError(f"{where} is unusable: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ModelError(f"{where} is incomplete: {type(exc).__name__}: {exc}") from None
        try:
            model._set_state(directory, state)
            model._probe()
        except HepsiftError as exc:
            if str(directory) in str(exc):
                raise
            raise ModelError(f"saved model '{directory}': {exc}") from None
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            OSError,
            MemoryError,
        ) as exc:
            raise ModelError(
                f"saved model '{directory}' does not match its {META_FILE}: "
                f"{type(exc).__name__}: {one_line(exc, 160)}"
            ) from None
        return model

    def _probe(self) -> None:
        """After loading: one all-zero event must give one finite output row of the declared
        width (a tampered ``n_features_in`` / ``classes`` / payload fails here)."""
        n = int(self.n_features_in_)
        extra: dict[str, Any] = {}
        if self.inputs - {"table", "param"}:
            return  # set/image models need object inputs; their payload checks stand alone
        if self.parametric:
            extra["param"] = np.full(1, float(getattr(self, "param_center_", 0.0) or 0.0))
        X = np.zeros((1, n))
        out = np.asarray(
            self.predict_proba(X, **extra)
            if hasattr(self, "predict_proba")
            else self.predict(X, **extra)  # type: ignore[attr-defined]
        )
        width = self._output_width()
        if out.shape[0] != 1 or (out.ndim == 2 and out.shape[1] != width):
            raise ModelError(
                f"saved model gives outputs of shape {out.shape[1:]} per event but its "
                f"{META_FILE} declares {width}"
            )
        if not np.all(np.isfinite(out)):
            raise ModelError("saved model gives NaN or inf on an all-zero event")

    def _output_width(self) -> int:
        return 1

    @classmethod
    def _from_params(cls, params: dict[str, Any], meta: dict[str, Any]) -> Any:
        """Build an unfitted instance from saved hyperparameters (override for nested models).

        A dict ``class_weight`` (dropped by the generic loader) is put back from ``meta``.
        """
        from hepsift.train.weights import restore_class_weight

        valid = cls._get_param_names()
        full = restore_class_weight(params, meta)
        return cls(**{k: v for k, v in full.items() if k in valid})

    def to_onnx(self, path: str | os.PathLike[str]) -> Path:
        """Export to ONNX: input ``X`` float32 (n, d) (plus one input per extra entry of
        ``inputs``, e.g. ``param``); output ``probabilities`` (n, classes) for classifiers,
        ``predictions`` for regressors. See :mod:`hepsift.export`."""
        from hepsift.export import export_onnx

        if not str(path).strip():
            raise ModelError("cannot export to ONNX: the path is empty; give a file name")
        try:
            return export_onnx(self, path)
        except OSError as exc:
            raise ModelError(
                f"cannot write the ONNX file '{path}': {exc.strerror or exc}; "
                "give a path you can write to"
            ) from None

    def _onnx_proto(self) -> Any:
        raise ModelError(f"model family '{self.family or type(self).__name__}' has no ONNX export")


class Classifier(ClassifierMixin, Model):  # type: ignore[misc]
    """Base class of hepsift classifiers (see the module docstring)."""

    _fitted_attr: ClassVar[str] = "classes_"

    # -- to be implemented by the families ---------------------------------------------------
    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        raise NotImplementedError

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    # -- the fit preamble --------------------------------------------------------------------
    def _validate_fit_inputs(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_consistent_length

        Xv = self._validate_X(X, reset=True)
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            # scikit-learn's contract (check_supervised_y_2d): accept, but say so
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(
                f"y should be a 1d array, got an array of shape {y_arr.shape} instead."
            )
        check_consistent_length(Xv, y_arr)
        if y_arr.dtype.kind in "fc" and not np.all(np.isfinite(y_arr)):
            # checked here: sklearn's target-type check would warn on the cast first
            raise DataError("y contains NaN or inf; class labels must be finite")
        check_classification_targets(y_arr)
        classes, y_enc = np.unique(y_arr, return_inverse=True)
        if classes.size < 2:
            raise DataError(
                f"training data holds only one class ({classes.tolist()}); a classifier needs "
                "at least two"
            )
        self.classes_ = classes
        w = self._sample_weight(sample_weight, Xv.shape[0])
        return Xv, y_enc.astype(np.int64), w

    def _encode(self, y: ArrayLike) -> NDArray[np.int64]:
        """Indices of ``y`` in ``classes_``; DataError for labels not seen in training."""
        cls = np.asarray(self.classes_)
        yy = np.asarray(y)
        idx = np.clip(np.searchsorted(cls, yy), 0, len(cls) - 1)
        if not np.all(cls[idx] == yy):
            bad = sorted(set(yy[cls[idx] != yy].tolist()))
            raise DataError(
                f"eval_set y holds labels {bad[:5]} not seen in training (classes {list(cls)})"
            )
        return idx.astype(np.int64)

    def _training_weights(
        self, y: NDArray[np.int64], w: NDArray[np.float64], *, class_weight: Any = None
    ) -> NDArray[np.float64]:
        """The training weights of encoded ``y``: the family's ``negative_weights`` policy and
        ``class_weight`` (its hyperparameters when it has them) applied to ``w``."""
        from hepsift.train.weights import training_weights

        params = self.get_params(deep=False)
        cw = params.get("class_weight") if class_weight is None else class_weight
        return training_weights(
            y,
            w,
            negative=params.get("negative_weights", "keep"),
            class_weight=cw,
            classes=self.classes_,
        )

    def _parse_eval_set(self, eval_set: Any) -> EvalSet:
        """``eval_set`` with its labels encoded like the training labels."""
        return self._eval_set(eval_set, self._encode)

    # -- the contract ------------------------------------------------------------------------
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **fit_params: Any
    ) -> Classifier:
        self._check_fit_keywords(fit_params)
        Xv, y_enc, w = self._validate_fit_inputs(X, y, sample_weight)
        self._fit(Xv, y_enc, w, **{k: v for k, v in fit_params.items() if v is not None})
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        return self._predict_proba(self._validate_X(X, reset=False))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        proba = self.predict_proba(X)
        return np.asarray(np.asarray(self.classes_)[np.argmax(proba, axis=1)])

    def decision_score(self, X: ArrayLike) -> NDArray[np.float64]:
        """The signal score: P(last class) for binary problems (the ROC input)."""
        proba = self.predict_proba(X)
        return proba[:, -1]

    # -- files -------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"classes": jsonable(np.asarray(self.classes_))}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        classes = meta.get("classes")
        if not isinstance(classes, list) or len(classes) < 2:
            raise ModelError(
                f"'classes' is {str(classes)[:60]!r}; a saved classifier lists at least 2 labels"
            )
        self.classes_ = np.asarray(classes)

    def _output_width(self) -> int:
        return len(self.classes_)


class Regressor(Model):
    """Base class of hepsift regressors: ``fit(X, y (n,) or (n, k), sample_weight)``,
    ``predict``; validation and files as :class:`Classifier`."""

    _fitted_attr: ClassVar[str] = "n_outputs_"
    _estimator_type = "regressor"
    n_outputs_: int

    def _fit(
        self, X: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], **kw: Any
    ) -> None:
        raise NotImplementedError

    def _predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **fit_params: Any
    ) -> Regressor:
        self._check_fit_keywords(fit_params)
        Xv = self._validate_X(X, reset=True)
        yv = np.asarray(y, dtype=np.float64)
        if yv.ndim not in (1, 2) or yv.shape[0] != Xv.shape[0]:
            raise ValueError(
                f"y has shape {yv.shape}; expected ({Xv.shape[0]},) or ({Xv.shape[0]}, k)"
            )
        if not np.all(np.isfinite(yv)):
            raise DataError("regression target y contains NaN or inf")
        w = self._sample_weight(sample_weight, Xv.shape[0])
        self.n_outputs_ = 1 if yv.ndim == 1 else int(yv.shape[1])
        self._fit(Xv, yv, w, **{k: v for k, v in fit_params.items() if v is not None})
        return self

    def _parse_eval_set(self, eval_set: Any) -> EvalSet:
        """``eval_set`` with float targets."""
        return self._eval_set(eval_set, lambda t: np.asarray(t, dtype=np.float64))

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_outputs_")
        return self._predict(self._validate_X(X, reset=False))

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Weighted R^2 (scikit-learn's)."""
        from sklearn.metrics import r2_score

        return float(r2_score(y, self.predict(X), sample_weight=sample_weight))

    def _meta(self) -> dict[str, Any]:
        return {"classes": [], "n_outputs": int(self.n_outputs_)}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        self.n_outputs_ = int(meta.get("n_outputs", 1))

    def _output_width(self) -> int:
        return int(self.n_outputs_)


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder (not a link) whose ``model.json`` carries hepsift's
    format marker: a folder :meth:`Model.save` wrote and may replace."""
    folder = Path(path)
    meta = folder / META_FILE
    try:
        if folder.is_symlink() or not folder.is_dir() or not meta.is_file():
            return False
        if meta.stat().st_size > MAX_META_BYTES:
            return False
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == MODEL_FORMAT


def _check_model_target(target: Path, *, force: bool) -> None:
    """Refuse to replace anything :meth:`Model.save` did not write (see ``save``)."""
    if not str(target).strip():
        raise ModelError("cannot save a model to an empty path; give a folder name")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ModelError(
            f"cannot save the model to '{target}': it exists and is a file or a link, not a "
            "folder (hepsift replaces only model folders it wrote); choose another path"
        )
    if target.is_dir() and not force and not is_model_dir(target) and any(target.iterdir()):
        raise ModelError(
            f"cannot save the model to '{target}': the folder holds files that are not a saved "
            "hepsift model; choose a new or empty folder (or force=True / --force to replace it)"
        )


def check_features(
    X: NDArray[Any], *, family: str, allow_nan: bool = False, name: str = "X"
) -> None:
    """Refuse inf always and NaN unless ``allow_nan``: one DataError line naming the columns
    (0-based, in the order the model was given them) and what to do instead."""
    if X.dtype.kind not in "fc" or X.size == 0:
        return
    finite = np.isfinite(X)
    if finite.all():
        return
    nan = np.isnan(X)
    inf = ~finite & ~nan
    if inf.any():
        cols = np.flatnonzero(inf.any(axis=0)).tolist()
        raise DataError(
            f"{name} columns {cols[:10]} contain +-infinity ({int(inf.sum())} values); "
            "features must be finite numbers (NaN marks a missing value)"
        )
    if not allow_nan:
        cols = np.flatnonzero(nan.any(axis=0)).tolist()
        raise DataError(
            f"{name} columns {cols[:10]} contain NaN ({int(nan.sum())} values) and family "
            f"'{family}' cannot take missing values: impute them (Scaled(model, "
            "impute='median'); run config 'missing: keep' with 'impute: median') or use family "
            "'bdt', which takes NaN as missing"
        )


def write_model_dir(
    path: str | os.PathLike[str],
    make_meta: Callable[[Path], dict[str, Any]],
    *,
    force: bool = False,
) -> Path:
    """Write a saved-model directory at ``path`` atomically.

    ``make_meta(tmp)`` writes the payload files into the temporary directory ``tmp`` and
    returns the ``model.json`` content. ``path`` may be new, an empty folder or a model folder
    hepsift wrote (replaced only once the new one is complete); anything else is refused with a
    ModelError unless ``force``. The folder gets the mode of a plain ``mkdir`` (the umask).
    """
    target = Path(path)
    _check_model_target(target, force=force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise ModelError(
            f"cannot save the model to '{target}': {exc.strerror or exc}; "
            "give a folder you can write to"
        ) from None
    try:
        os.chmod(tmp, file_mode(directory=True))
        _sweep_killed_saves(target)
        atomic_write_text(tmp / SAVING_MARKER, f"{os.getpid()} {socket.gethostname()}\n")
        meta = make_meta(tmp)
        atomic_write_text(tmp / META_FILE, dumps_json(meta, sort_keys=True))
        (tmp / SAVING_MARKER).unlink()
        _swap_into_place(tmp, target, force=force)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(
            f"cannot save the model to '{target}': {exc.strerror or exc}; "
            "give a folder you can write to"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


#: inside a model folder being written: ``"<pid> <host>"`` of the saving process
SAVING_MARKER = ".hepsift-saving"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True


def _sweep_killed_saves(target: Path) -> None:
    """Remove the temporary folders ``.NAME.*.tmp`` of saves to ``target`` whose process died
    (SIGKILL) on this host; only folders holding :data:`SAVING_MARKER` are considered."""
    host = socket.gethostname()
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            if tmp.is_symlink() or not tmp.is_dir():
                continue
            pid_text, _, tmp_host = (tmp / SAVING_MARKER).read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if tmp_host == host and pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_into_place(tmp: Path, target: Path, *, force: bool) -> None:
    """Rename the finished ``tmp`` to ``target``; an old folder is moved aside first and removed
    only after the new one is in place (put back if that fails)."""
    if not target.exists():
        tmp.rename(target)
        return
    _check_model_target(target, force=force)  # again: it may have changed while fitting/writing
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


#: the largest model.json read (the state of a forest of deep trees is in its NPZ payload)
MAX_META_BYTES = 64 * 1024 * 1024
#: bounds on the numbers model.json declares (a tampered file must not allocate petabytes)
MAX_FEATURES = 100_000
MAX_CLASSES = 10_000


def _meta_error(meta_path: Path, what: str) -> ModelError:
    return ModelError(f"'{meta_path}' is not a valid hepsift model.json: {what}")


def _check_count(
    meta: dict[str, Any], key: str, high: int, meta_path: Path, *, low: int = 1
) -> None:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _meta_error(
            meta_path, f"'{key}' is {str(value)[:40]!r}; expected an integer in {low}..{high}"
        )


def _check_classes(meta: dict[str, Any], meta_path: Path) -> None:
    classes = meta.get("classes")
    if classes is None:
        return  # checked against the family's kind in Model.load
    if not isinstance(classes, list) or len(classes) > MAX_CLASSES:
        raise _meta_error(meta_path, f"'classes' must be a list of at most {MAX_CLASSES} labels")
    if not all(isinstance(c, int | float | str) for c in classes):  # bool is an int
        raise _meta_error(meta_path, "'classes' must hold numbers, booleans or strings only")
    if len({(type(c).__name__, c) for c in classes}) != len(classes):
        raise _meta_error(meta_path, "'classes' repeats a label")


def read_model_meta(directory: Path) -> dict[str, Any]:
    """The ``model.json`` of a saved model, checked against its schema (required keys, types,
    bounded sizes); a one-line ModelError names what is wrong."""
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ModelError(f"'{directory}' is not a saved hepsift model (no {META_FILE} inside)")
    try:
        if meta_path.stat().st_size > MAX_META_BYTES:
            raise _meta_error(meta_path, f"larger than {MAX_META_BYTES} bytes")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(f"'{meta_path}' is not valid JSON: {one_line(exc, 120)}") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelError(f"'{meta_path}' has format {str(found)[:40]!r}; expected '{MODEL_FORMAT}'")
    for key, kind in (("family", str), ("params", dict), ("state", dict), ("n_features_in", int)):
        if not isinstance(meta.get(key), kind):
            raise ModelError(f"'{meta_path}' lacks a valid '{key}' entry")
    # 0 feature columns: a set or image model may take its objects/images only
    _check_count(meta, "n_features_in", MAX_FEATURES, meta_path, low=0)
    if "n_outputs" in meta:
        _check_count(meta, "n_outputs", MAX_FEATURES, meta_path)
    _check_classes(meta, meta_path)
    return meta


def payload_path(directory: Path, name: Any) -> Path:
    """``directory / name`` for a payload name read from ``model.json``: a plain file name,
    never a path, and not a link leading out of the folder (a ModelError otherwise)."""
    text = name if isinstance(name, str) else ""
    if (
        not text
        or text in (".", "..")
        or Path(text).name != text
        or "\\" in text
        or "\x00" in text
        or os.path.isabs(text)
    ):
        shown = str(name)[:80]
        raise ModelError(
            f"saved model in '{directory}' names a payload '{shown}' that is not a plain file name"
        )
    path = directory / text
    try:
        inside = path.resolve().is_relative_to(directory.resolve()) and (
            path.resolve() != directory.resolve()
        )
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise ModelError(
            f"saved model in '{directory}': payload '{text}' is a link leading out of the folder"
        )
    return path


def _npz_member_ok(archive: Any, info: Any) -> None:
    """The header of one ``.npy`` member: no object dtype, and no more data than the member
    holds (a tampered shape must not allocate terabytes before the read fails)."""
    from numpy.lib import format as npy

    with archive.open(info) as fh:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(fh)
        else:
            shape, _, dtype = npy.read_array_header_2_0(fh)
    if dtype.hasobject:
        raise ValueError(f"member '{info.filename}' holds Python objects")
    if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
        raise ValueError(f"member '{info.filename}' declares shape {shape} but holds less data")


def read_npz(path: Path, what: str) -> dict[str, NDArray[Any]]:
    """Every array of the NPZ payload ``path`` (never unpickled; headers checked against the
    data first); one ModelError line naming ``what`` when the file is unusable."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _npz_member_ok(archive, info)
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, MemoryError) as exc:
        raise ModelError(f"cannot read {what} from '{path}': {one_line(exc, 160)}") from None
