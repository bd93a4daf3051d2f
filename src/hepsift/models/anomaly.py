"""Anomaly detectors: families trained without labels, scoring how unusual each event is.

Contract (DESIGN.md): ``fit(X, sample_weight=None) -> self`` (no labels; weights are MC
weights, used as ``|w|``) and ``anomaly_score(X)`` (n,), higher = more anomalous. Saved like
every model (``model.json`` + safe payloads, ``hepsift.models.load``); ONNX graphs take ``X``
float32 (n, d) and give ``anomaly_score`` float32 (n,).

- ``isolation-forest``: scikit-learn's IsolationForest; score = minus its ``score_samples``
  (the normalised mean path length). Trees saved as node arrays in ``trees.npz`` and rebuilt on
  load; ONNX through skl2onnx (its ``scores`` output shifted by ``offset_`` and negated).
- ``autoencoder``: a torch :class:`~hepsift.models.nets.MLPNet` ``d -> hidden -> d`` on
  standardised inputs, trained by the one loop (:func:`hepsift.train.torch_loop.train_module`,
  weighted MSE); score = mean squared reconstruction error of the standardised event. ONNX via
  ``torch.onnx`` (scaler, network and error in one graph).
- ``gmm``: a Gaussian mixture (full covariances) fit by weighted EM written here (scikit-learn's
  GaussianMixture takes no sample weights), initialised by weighted k-means; score = minus the
  log density of the standardised event. ONNX in plain ops (Sub, Div, Einsum, ReduceSumSquare,
  ReduceLogSumExp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import DataError, ModelError
from hepsift.models._torch import (
    TorchModel,
    apply_scaler_buffers,
    build_mlp_net,
    fit_scaler,
    forward_chunks,
    load_torch_state,
    onnx_proto,
    register_scaler_buffers,
    save_torch_state,
    scaled32,
    split_off_validation,
    train_net,
)
from hepsift.models.base import Model, payload_path, read_npz

__all__ = ["AnomalyDetector", "Autoencoder", "GaussianMixture", "IsolationForest"]

F64 = NDArray[np.float64]
SCORE_OUTPUT = "anomaly_score"
_TREE_FILE = "trees.npz"
_GMM_FILE = "gmm.npz"


class AnomalyDetector(Model):
    """Base class: ``fit(X, sample_weight=None)``, ``anomaly_score(X)`` (higher = more
    anomalous). Families implement ``_fit(X, w)`` and ``_score(X)``."""

    _estimator_type = "outlier_detector"

    def _fit(self, X: F64, w: F64) -> None:
        raise NotImplementedError

    def _score(self, X: F64) -> F64:
        raise NotImplementedError

    def fit(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> AnomalyDetector:
        """Fit on the events ``X`` (no labels); weights as ``|w|``."""
        Xv = self._validate_X(X, reset=True)
        if Xv.shape[0] < 2:
            raise DataError(f"{self.family}: need at least 2 events to fit; got {Xv.shape[0]}")
        w = np.abs(self._sample_weight(sample_weight, Xv.shape[0]))
        self._fit(Xv, w)
        return self

    def anomaly_score(self, X: ArrayLike) -> F64:
        """(n,) score per event, higher = more anomalous."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, self._fitted_attr)
        return np.asarray(self._score(self._validate_X(X, reset=False)), dtype=np.float64)

    def decision_score(self, X: ArrayLike) -> F64:
        """The anomaly score (the name the evaluation code reads)."""
        return self.anomaly_score(X)

    def _probe(self) -> None:
        out = self.anomaly_score(np.zeros((1, int(self.n_features_in_))))
        if out.shape != (1,) or not np.all(np.isfinite(out)):
            raise ModelError("saved anomaly detector gives no finite score on an all-zero event")


# -- isolation forest ---------------------------------------------------------------------
def _rebuild_extra_tree(arrays: dict[str, NDArray[Any]], n_features: int) -> Any:
    from sklearn.tree import ExtraTreeRegressor
    from sklearn.tree._tree import NODE_DTYPE, Tree

    node_count = int(arrays["left_child"].shape[0])
    nodes = np.zeros(node_count, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names or ():
        if name not in arrays:
            raise ModelError(f"saved isolation tree lacks the node array '{name}'")
        nodes[name] = arrays[name]
    values = np.ascontiguousarray(arrays["values"], dtype=np.float64)
    if values.shape != (node_count, 1, 1):
        raise ModelError(f"saved isolation tree values have shape {values.shape}")
    tree = Tree(int(n_features), np.array([1], dtype=np.intp), 1)
    tree.__setstate__(
        {
            "max_depth": int(arrays["max_depth"]),
            "node_count": node_count,
            "nodes": nodes,
            "values": values,
        }
    )
    est = ExtraTreeRegressor()
    est.tree_ = tree
    est.n_features_in_ = int(n_features)
    est.n_outputs_ = 1
    est.max_features_ = int(n_features)
    return est


class IsolationForest(AnomalyDetector):
    """scikit-learn IsolationForest (see the module docstring)."""

    family: ClassVar[str] = "isolation-forest"
    seed_param: ClassVar[str | None] = "seed"
    estimator_: Any

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_samples: int | None = None,
        max_features: float = 1.0,
        n_jobs: int | None = None,
        seed: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, X: F64, w: F64) -> None:
        from sklearn.ensemble import IsolationForest as SkIsolationForest

        est = SkIsolationForest(
            n_estimators=int(self.n_estimators),
            max_samples="auto" if self.max_samples is None else min(self.max_samples, len(X)),
            max_features=float(self.max_features),
            n_jobs=self.n_jobs,
            random_state=int(self.seed),
        )
        self.estimator_ = est.fit(X, sample_weight=w)

    def _score(self, X: F64) -> F64:
        return -np.asarray(self.estimator_.score_samples(X), dtype=np.float64)

    def _get_state(self, directory: Path) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        est = self.estimator_
        for i, (tree, feats) in enumerate(
            zip(est.estimators_, est.estimators_features_, strict=True)
        ):
            state = tree.tree_.__getstate__()
            nodes = state["nodes"]
            for name in nodes.dtype.names:
                payload[f"t{i}_{name}"] = np.ascontiguousarray(nodes[name])
            payload[f"t{i}_values"] = np.ascontiguousarray(state["values"])
            payload[f"t{i}_max_depth"] = np.asarray(state["max_depth"], dtype=np.int64)
            payload[f"t{i}_features"] = np.asarray(feats, dtype=np.int64)
        np.savez(directory / _TREE_FILE, **payload)
        return {
            "file": _TREE_FILE,
            "n_trees": len(est.estimators_),
            "max_samples_": int(est.max_samples_),
            "max_features_": int(est._max_features),
            "offset_": float(est.offset_),
        }

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from sklearn.ensemble import IsolationForest as SkIsolationForest
        from sklearn.ensemble._iforest import _average_path_length

        arrays = read_npz(payload_path(directory, state.get("file", _TREE_FILE)), "trees")
        n = int(self.n_features_in_)
        trees, feats = [], []
        for i in range(int(state["n_trees"])):
            prefix = f"t{i}_"
            mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            f = np.asarray(mine["features"], dtype=np.int64)
            if f.ndim != 1 or np.any(f < 0) or np.any(f >= n):
                raise ModelError(f"saved isolation tree {i} uses features outside 0..{n - 1}")
            trees.append(_rebuild_extra_tree(mine, len(f)))
            feats.append(f)
        est = SkIsolationForest(n_estimators=len(trees), random_state=int(self.seed))
        est.estimators_ = trees
        est.estimators_features_ = feats
        est.n_features_in_ = n
        est.max_samples_ = int(state["max_samples_"])
        est._max_samples = int(state["max_samples_"])
        est._max_features = int(state["max_features_"])
        est.offset_ = float(state["offset_"])
        est._average_path_length_per_tree = [
            _average_path_length(t.tree_.n_node_samples) for t in trees
        ]
        est._decision_path_lengths = [t.tree_.compute_node_depths() for t in trees]
        est.estimator_ = trees[0] if trees else None
        self.estimator_ = est

    def _onnx_proto(self) -> Any:
        from onnx import helper, numpy_helper
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        proto = convert_sklearn(
            self.estimator_,
            initial_types=[("X", FloatTensorType([None, int(self.n_features_in_)]))],
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
        graph = proto.graph
        scores = next(o.name for o in graph.output if o.name != "label")
        graph.initializer.append(
            numpy_helper.from_array(
                np.asarray([self.estimator_.offset_], dtype=np.float32), "hepsift_offset"
            )
        )
        graph.initializer.append(
            numpy_helper.from_array(np.asarray([-1], dtype=np.int64), "hepsift_flat")
        )
        graph.node.extend(
            [
                helper.make_node("Add", [scores, "hepsift_offset"], ["hepsift_samples"]),
                helper.make_node("Neg", ["hepsift_samples"], ["hepsift_neg"]),
                helper.make_node("Reshape", ["hepsift_neg", "hepsift_flat"], [SCORE_OUTPUT]),
            ]
        )
        del graph.output[:]
        graph.output.append(
            helper.make_tensor_value_info(SCORE_OUTPUT, 1, [None])  # float32 (n,)
        )
        return proto


# -- autoencoder --------------------------------------------------------------------------
class _ReconstructionError:
    """Torch module factory: scaler + autoencoder + per-event mean squared error (ONNX)."""

    @staticmethod
    def build(scaler: Any, net: Any) -> Any:
        import torch

        class _Export(torch.nn.Module):
            lo: torch.Tensor
            hi: torch.Tensor
            center: torch.Tensor
            scale: torch.Tensor

            def __init__(self) -> None:
                super().__init__()
                self.net = net
                register_scaler_buffers(self, scaler)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                z = apply_scaler_buffers(self, x)
                err: torch.Tensor = ((self.net(z) - z) ** 2).mean(dim=1)
                return err

        return _Export().eval()


class Autoencoder(TorchModel, AnomalyDetector):
    """Fully connected autoencoder (see the module docstring). ``hidden`` are the layer widths
    between input and output, e.g. ``(32, 4, 32)``: the narrowest is the bottleneck."""

    family: ClassVar[str] = "autoencoder"
    supports_eval_set: ClassVar[bool] = False

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (32, 4, 32),
        activation: str = "relu",
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        epochs: int = 50,
        patience: int = 5,
        schedule: str = "plateau",
        scaling: str = "standard",
        clip_quantile: float | None = None,
        validation_fraction: float = 0.2,
        num_threads: int | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
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
        self.num_threads = num_threads
        self.progress = progress
        self.seed = seed

    def _build_net(self, args: dict[str, Any]) -> Any:
        return build_mlp_net(args, int(self.seed))

    def _fit(self, X: F64, w: F64) -> None:
        from hepsift.models._torch import net_args

        scaler = fit_scaler(self.scaling, self.clip_quantile, X, w)
        Z = scaled32(scaler, X)
        train: tuple[Any, ...] = (Z, w)
        valid = None
        if self.validation_fraction:
            train, held = split_off_validation(
                np.zeros(len(Z), dtype=np.int64), self.validation_fraction, self.seed, (Z, w)
            )
            valid = ((held[0],), held[0], held[1])
        d = int(X.shape[1])
        train_net(
            self,
            scaler,
            net_args(self, d, d, batch_norm=False),
            ((train[0],), train[0], train[1]),
            valid,
            loss="mse",
        )

    def _score(self, X: F64) -> F64:
        import torch

        Z = torch.from_numpy(scaled32(self.scaler_, X))
        self.net_.eval()

        def forward(rows: slice) -> torch.Tensor:
            z = Z[rows]
            return ((self.net_(z) - z) ** 2).mean(dim=1)  # type: ignore[no-any-return]

        out = forward_chunks(forward, Z.shape[0], 4096, lambda: torch.zeros(0))
        return np.asarray(out.double().numpy(), dtype=np.float64)

    def _get_state(self, directory: Path) -> dict[str, Any]:
        return save_torch_state(self, directory)

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        load_torch_state(self, directory, state, what="autoencoder")

    def _onnx_proto(self) -> Any:
        import torch

        module = _ReconstructionError.build(self.scaler_, self.net_)
        return onnx_proto(
            module, (torch.zeros(2, int(self.n_features_in_)),), ["X"], output=SCORE_OUTPUT
        )


# -- Gaussian mixture ---------------------------------------------------------------------
def _log_gauss(Z: F64, means: F64, prec_chol: F64) -> F64:
    """(n, K) log N(z | mean_k, cov_k) with ``prec_chol[k] @ prec_chol[k].T = inv(cov_k)``."""
    d = Z.shape[1]
    logdet = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    y = np.einsum("nd,kde->nke", Z, prec_chol) - np.einsum("kd,kde->ke", means, prec_chol)
    return np.asarray(-0.5 * (d * np.log(2 * np.pi) + (y**2).sum(axis=2)) + logdet)


def _prec_chol(cov: F64) -> F64:
    out = np.empty_like(cov)
    for k in range(cov.shape[0]):
        try:
            c = np.linalg.cholesky(cov[k])
        except np.linalg.LinAlgError:
            raise DataError(
                "gmm: a component covariance is singular; raise reg_covar or use fewer components"
            ) from None
        out[k] = np.linalg.solve(c, np.eye(cov.shape[1])).T
    return out


class GaussianMixture(AnomalyDetector):
    """Weighted Gaussian mixture density (see the module docstring)."""

    family: ClassVar[str] = "gmm"
    seed_param: ClassVar[str | None] = "seed"
    scales_inputs: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_components: int = 8,
        max_iter: int = 200,
        tol: float = 1e-4,
        reg_covar: float = 1e-4,
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.seed = seed

    def _fit(self, X: F64, w: F64) -> None:
        from scipy.special import logsumexp
        from sklearn.cluster import KMeans

        self.center_ = (w @ X) / w.sum()
        self.scale_ = np.sqrt((w @ (X - self.center_) ** 2) / w.sum())
        self.scale_[self.scale_ == 0] = 1.0
        Z = (X - self.center_) / self.scale_
        K = min(int(self.n_components), len(Z))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small fit: threads spin-wait on a shared machine
            km = KMeans(K, n_init=2, random_state=int(self.seed)).fit(Z, sample_weight=w)
        labels = km.labels_
        resp = np.eye(K)[labels]
        previous = -np.inf
        self.converged_ = False
        for it in range(int(self.max_iter)):
            self._m_step(Z, w, resp)
            log_prob = _log_gauss(Z, self.means_, self.prec_chol_) + np.log(self.weights_)
            norm = logsumexp(log_prob, axis=1)
            resp = np.exp(log_prob - norm[:, None])
            ll = float(w @ norm / w.sum())
            self.n_iter_ = it + 1
            if abs(ll - previous) < float(self.tol):
                self.converged_ = True
                break
            previous = ll
        self.lower_bound_ = ll

    def _m_step(self, Z: F64, w: F64, resp: F64) -> None:
        wr = resp * w[:, None]
        nk = wr.sum(axis=0) + 10 * np.finfo(float).eps
        means = (wr.T @ Z) / nk[:, None]
        d = Z.shape[1]
        cov = np.empty((len(nk), d, d))
        for k in range(len(nk)):
            diff = Z - means[k]
            cov[k] = (wr[:, k, None] * diff).T @ diff / nk[k] + float(self.reg_covar) * np.eye(d)
        self.weights_ = nk / nk.sum()
        self.means_ = means
        self.prec_chol_ = _prec_chol(cov)

    def _score(self, X: F64) -> F64:
        from scipy.special import logsumexp

        Z = (X - self.center_) / self.scale_
        log_prob = _log_gauss(Z, self.means_, self.prec_chol_) + np.log(self.weights_)
        return -np.asarray(logsumexp(log_prob, axis=1), dtype=np.float64)

    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "center_",
        "scale_",
        "weights_",
        "means_",
        "prec_chol_",
    )

    def _get_state(self, directory: Path) -> dict[str, Any]:
        arrays: dict[str, Any] = {k.rstrip("_"): getattr(self, k) for k in self._ARRAYS}
        np.savez(directory / _GMM_FILE, **arrays)
        return {"file": _GMM_FILE, "n_iter": int(self.n_iter_)}

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        arrays = read_npz(payload_path(directory, state.get("file", _GMM_FILE)), "mixture")
        d = int(self.n_features_in_)
        for key in self._ARRAYS:
            setattr(self, key, np.asarray(arrays[key.rstrip("_")], dtype=np.float64))
        K = self.weights_.shape[0]
        shapes = [(d,), (d,), (K,), (K, d), (K, d, d)]
        for key, shape in zip(self._ARRAYS, shapes, strict=True):
            if getattr(self, key).shape != shape:
                raise ModelError(f"saved mixture array '{key}' has the wrong shape")
        self.n_iter_ = int(state.get("n_iter", 0))

    def _onnx_proto(self) -> Any:
        """-log sum_k exp(log w_k + logdet_k - d/2 log 2pi - |(z - mu_k) P_k|^2 / 2)."""
        import onnx
        from onnx import helper, numpy_helper

        d = int(self.n_features_in_)
        logdet = np.log(np.diagonal(self.prec_chol_, axis1=1, axis2=2)).sum(axis=1)
        const = np.log(self.weights_) + logdet - 0.5 * d * np.log(2 * np.pi)
        shift = np.einsum("kd,kde->ke", self.means_, self.prec_chol_)

        def init(name: str, value: Any, dtype: Any = np.float32) -> Any:
            return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)

        inits = [
            init("center", self.center_),
            init("scale", self.scale_),
            init("prec", self.prec_chol_),
            init("shift", shift),
            init("const", const),
            init("minus_half", [-0.5]),
            init("axis2", [2], np.int64),
            init("axis1", [1], np.int64),
        ]
        nodes = [
            helper.make_node("Sub", ["X", "center"], ["xc"]),
            helper.make_node("Div", ["xc", "scale"], ["z"]),
            helper.make_node("Einsum", ["z", "prec"], ["zp"], equation="nd,kde->nke"),
            helper.make_node("Sub", ["zp", "shift"], ["y"]),
            helper.make_node("ReduceSumSquare", ["y", "axis2"], ["r2"], keepdims=0),
            helper.make_node("Mul", ["r2", "minus_half"], ["half"]),
            helper.make_node("Add", ["half", "const"], ["logp"]),
            helper.make_node("ReduceLogSumExp", ["logp", "axis1"], ["lse"], keepdims=0),
            helper.make_node("Neg", ["lse"], [SCORE_OUTPUT]),
        ]
        graph = helper.make_graph(
            nodes,
            "hepsift_gmm",
            [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [None, d])],
            [helper.make_tensor_value_info(SCORE_OUTPUT, onnx.TensorProto.FLOAT, [None])],
            initializer=inits,
        )
        proto = helper.make_model(
            graph, producer_name="hepsift", opset_imports=[helper.make_opsetid("", 18)]
        )
        proto.ir_version = 8
        onnx.checker.check_model(proto)
        return proto
