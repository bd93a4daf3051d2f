"""Logistic regression from scratch (NumPy): binary sigmoid and multinomial softmax.

The model minimises the weighted cross-entropy plus an L2 penalty on the weights (the intercept
is not penalised), with scikit-learn's meaning of ``C``::

    f(W, b) = [ sum_i w_i * loss_i(W, b) + ||W||^2 / (2 C) ] / sum_i |w_i|

(the division by the total weight only scales the objective; the minimum is scikit-learn's).
Binary problems use one weight vector (``coef_`` of shape (1, d)) and the sigmoid; K > 2
classes use K weight vectors and the softmax (multinomial), as scikit-learn does.

Solvers
-------
``newton`` (default): Newton / IRLS steps with an Armijo backtracking line search. The Hessian
``X^T diag(h) X`` is accumulated over row chunks so that no n x d temporary is built; its
eigenvalues are clipped to be positive, which keeps steps downhill when negative Monte Carlo
weights make the loss non-convex. When the multinomial Hessian would be large
(K (d + 1) > ``NEWTON_MAX_PARAMS``) it falls back to gradient descent with line search.
Large data sets (n > ``WARM_START_MIN_ROWS``) are first solved on an evenly strided subsample,
then polished by steps on all events: the full-data gradient with the Hessian of a (finer)
strided subsample, corrected by BFGS updates from the full-data gradient changes, so that no
full-data Hessian is computed unless those steps stop gaining ``APPROX_MIN_GAIN`` per step.
The full-data optimum (gradient at most ``tol``) is the one returned. The solvers run with
single-threaded BLAS (their products are memory bound; the Hessian uses threads of its own).

``gd``: full-batch gradient descent with a fixed ``learning_rate`` for up to ``max_iter`` steps.

Both stop when the largest gradient component of ``f`` is at most ``tol``; otherwise a
:class:`sklearn.exceptions.ConvergenceWarning` says so.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, ModelError, suggest
from hepsift.models.base import Classifier, payload_path, read_npz

__all__ = ["LogisticRegression"]

FloatArray = NDArray[np.float64]

SOLVERS = ("newton", "gd")
#: Above this many parameters (K (d + 1)) the multinomial Newton solver uses gradient descent.
NEWTON_MAX_PARAMS = 1500
#: Data sets with more rows than this get a Newton warm start on a strided subsample, whose
#: Hessian then also stands in for the full-data one.
WARM_START_MIN_ROWS = 80_000
#: Rows in the warm-start subsample (at most a quarter of the data).
WARM_START_ROWS = 50_000
#: Rows of the (finer) subsample whose Hessian stands in for the full-data one.
HESSIAN_ROWS = 200_000
#: While the subsample's Hessian is used on the full data, each step must cut the largest
#: gradient component at least this many times (else exact Hessians take over).
APPROX_MIN_GAIN = 4.0
PAYLOAD = "logistic.npz"


def _expit(x: FloatArray) -> FloatArray:
    """The logistic sigmoid, without overflow."""
    from scipy.special import expit

    return np.asarray(expit(x), dtype=np.float64)


def _softmax(eta: FloatArray) -> FloatArray:
    z: FloatArray = eta - eta.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@functools.cache
def _blas_controller() -> Any:
    """One threadpoolctl controller (finding the loaded libraries takes milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """A context in which BLAS runs single-threaded."""
    return _blas_controller().limit(limits=1, user_api="blas")


_Solver = TypeVar("_Solver", bound=Callable[..., Any])


def _single_threaded_blas(solver: _Solver) -> _Solver:
    """Run ``solver`` with single-threaded BLAS: its products are matrix-vector products
    (memory bound), where BLAS threads gain little on an idle machine and spin-wait badly on a
    shared one; the Hessian spreads its rows over threads of its own."""

    @functools.wraps(solver)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _one_blas_thread():
            return solver(*args, **kwargs)

    return run  # type: ignore[return-value]


class _Problem:
    """The objective, gradient and Hessian of one fit, on a fixed (X, y, w).

    ``X`` may be float32 (the Dataset's dtype): it is then never copied whole; each pass
    converts one chunk of rows at a time to float64, so the arithmetic is float64 throughout.
    """

    def __init__(
        self,
        X: NDArray[np.floating[Any]],
        y: NDArray[np.int64],
        w: FloatArray,
        n_classes: int,
        C: float,
        fit_intercept: bool,
        chunk_size: int,
    ) -> None:
        self.X = X
        self.n, self.d = X.shape
        self.convert = X.dtype != np.float64
        self.binary = n_classes == 2
        self.m = 1 if self.binary else n_classes
        total = float(np.abs(w).sum())
        if total == 0.0:
            raise DataError("all sample weights are zero; nothing to fit")
        self.ws = w / total  # weights scaled to unit total |w|
        self.pen = 0.0 if np.isinf(C) else 1.0 / (C * total)
        self.fit_intercept = fit_intercept
        self.chunk = max(1, chunk_size)
        if self.binary:
            self.Y = y.astype(np.float64).reshape(-1, 1)
        else:
            self.Y = np.zeros((self.n, self.m))
            self.Y[np.arange(self.n), y] = 1.0
        self.y = y
        self._exp_cache: tuple[FloatArray | None, FloatArray] = (None, np.empty(0))
        self.p = self.m * (self.d + 1) if fit_intercept else self.m * self.d

    # parameters are a flat vector: for each class row k, [W_k (d), b_k (1 if intercept)]
    def unpack(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        cols = self.d + 1 if self.fit_intercept else self.d
        M = theta.reshape(self.m, cols)
        W = M[:, : self.d]
        b = M[:, self.d] if self.fit_intercept else np.zeros(self.m)
        return W, b

    def _spans(self) -> list[tuple[int, int]]:
        return [(a, min(a + self.chunk, self.n)) for a in range(0, self.n, self.chunk)]

    def rows(self, start: int, stop: int, buf: FloatArray | None) -> FloatArray:
        """Rows ``start:stop`` of X as float64 (a view, or converted into ``buf``)."""
        if not self.convert:
            return self.X[start:stop]  # type: ignore[return-value]
        assert buf is not None
        out = buf[: stop - start]
        out[...] = self.X[start:stop]
        return out

    def _buffer(self) -> FloatArray | None:
        return np.empty((min(self.chunk, self.n), self.d)) if self.convert else None

    def eta(self, theta: FloatArray) -> FloatArray:
        W, b = self.unpack(theta)
        if not self.convert:
            out = self.X @ W.T
        else:
            out = np.empty((self.n, self.m))
            buf = self._buffer()
            for a, z in self._spans():
                np.matmul(self.rows(a, z, buf), W.T, out=out[a:z])
        out += b
        return np.asarray(out, dtype=np.float64)

    def loss(self, eta: FloatArray, theta: FloatArray) -> float:
        if self.binary:
            # softplus(e) - y e with softplus(e) = max(e, 0) + log(1 + exp(-|e|)); exp(-|e|) is
            # kept for proba() of the same eta (the accepted step's), which then costs no exp.
            e = eta[:, 0]
            z = np.abs(e)
            np.negative(z, out=z)
            np.exp(z, out=z)
            self._exp_cache = (eta, z)
            per = z + 1.0
            np.log(per, out=per)  # log(1 + z): absolute error <= 1 ulp of 1, as the sum's own
            per += np.maximum(e, 0.0)
            per -= self.Y[:, 0] * e
        else:
            mx = eta.max(axis=1)
            per = np.log(np.exp(eta - mx[:, None]).sum(axis=1))
            per += mx
            per -= eta[np.arange(self.n), self.y]
        W, _ = self.unpack(theta)
        return float(self.ws @ per) + 0.5 * self.pen * float(np.sum(W * W))

    def proba(self, eta: FloatArray) -> FloatArray:
        if not self.binary:
            return _softmax(eta)
        cached, z = self._exp_cache
        if cached is not eta:
            return _expit(eta)
        # expit(e) = 1 / (1 + exp(-e)) for e >= 0 and exp(e) / (1 + exp(e)) for e < 0
        p = np.where(eta[:, 0] >= 0.0, 1.0, z)
        p /= 1.0 + z
        return p.reshape(-1, 1)

    def gradient(self, P: FloatArray, theta: FloatArray) -> FloatArray:
        R = P - self.Y
        R *= self.ws[:, None]
        if not self.convert:
            gW = R.T @ self.X
        else:
            gW = np.zeros((self.m, self.d))
            buf = self._buffer()
            for a, z in self._spans():
                gW += R[a:z].T @ self.rows(a, z, buf)
        W, _ = self.unpack(theta)
        gW += self.pen * W
        if self.fit_intercept:
            return np.concatenate([gW, R.sum(axis=0)[:, None]], axis=1).ravel()
        return gW.ravel()

    def hessian(self, P: FloatArray) -> FloatArray:
        """``sum_i w_i x~_i x~_i^T (diag(p_i) - p_i p_i^T)`` (blocks per class pair, x~ = [x, 1])
        plus the penalty.

        Rows are split between worker threads (one per CPU), each accumulating its share chunk
        by chunk into one small reused buffer with single-threaded BLAS (the solvers set it:
        ``_single_threaded_blas``): many small BLAS calls with multi-threaded BLAS spin-wait
        badly on a busy machine."""
        d, m = self.d, self.m
        cols = d + 1 if self.fit_intercept else d
        workers = max(1, min(os.cpu_count() or 1, self.n // (4 * self.chunk) or 1, 8))
        bounds = np.linspace(0, self.n, workers + 1).astype(int)
        parts = list(itertools.pairwise(bounds.tolist()))
        if workers == 1:
            blocks = [self._hessian_rows(P, 0, self.n)]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers) as pool:
                blocks = list(pool.map(lambda ab: self._hessian_rows(P, *ab), parts))
        H = np.sum(blocks, axis=0)
        for k in range(m):
            for j in range(k + 1, m):
                H[j, :, k, :] = H[k, :, j, :].T
            H[k, np.arange(d), k, np.arange(d)] += self.pen
        return np.asarray(H.reshape(m * cols, m * cols), dtype=np.float64)

    def _hessian_rows(self, P: FloatArray, lo: int, hi: int) -> FloatArray:
        """The upper block triangle of the data part of the Hessian from rows ``lo:hi``.

        Diagonal blocks are ``B^T B`` with ``B = sqrt|c| x~`` (a symmetric rank-k update, half
        the work of a general product); rows with negative weight are subtracted back."""
        d, m = self.d, self.m
        cols = d + 1 if self.fit_intercept else d
        H = np.zeros((m, cols, m, cols))
        buf = np.empty((min(self.chunk, max(hi - lo, 1)), cols))
        xbuf = self._buffer()
        for start in range(lo, hi, self.chunk):
            stop = min(start + self.chunk, hi)
            A = self.rows(start, stop, xbuf)
            B = buf[: stop - start]
            Pc = P[start:stop]
            wc = self.ws[start:stop]
            for k in range(m):
                for j in range(k, m):
                    blk = H[k, :, j, :]
                    if j == k:
                        c = wc * Pc[:, k] * (1.0 - Pc[:, k])
                        r = np.sqrt(np.abs(c))
                        np.multiply(A, r[:, None], out=B[:, :d])
                        if self.fit_intercept:
                            B[:, d] = r
                        blk += B.T @ B
                        neg = c < 0
                        if neg.any():
                            Bn = B[neg]
                            blk -= 2.0 * (Bn.T @ Bn)
                    else:
                        c = -wc * Pc[:, k] * Pc[:, j]
                        np.multiply(A, c[:, None], out=B[:, :d])
                        if self.fit_intercept:
                            B[:, d] = c
                            blk[:, d] += B.sum(axis=0)
                        blk[:, :d] += B.T @ A
        return H

    def initial(self) -> FloatArray:
        """Zero weights; intercepts at the log of the weighted class fractions when positive."""
        theta = np.zeros(self.p)
        if not self.fit_intercept:
            return theta
        if self.binary:
            ps = float(self.ws @ self.Y[:, 0])
            pb = float(self.ws.sum()) - ps
            if ps > 0 and pb > 0:
                theta[self.d] = np.log(ps / pb)
        else:
            frac = self.ws @ self.Y
            if np.all(frac > 0):
                b = np.log(frac)
                theta.reshape(self.m, self.d + 1)[:, self.d] = b - b.mean()
        return theta


class _NewtonSystem:
    """The eigen-decomposition of a Hessian, clipped so that every step goes downhill."""

    def __init__(self, H: FloatArray) -> None:
        vals, self.vecs = np.linalg.eigh(H)  # the solvers run with one BLAS thread
        scale = float(np.max(np.abs(vals))) if vals.size else 1.0
        # |lambda| and a floor: exact Newton for a convex loss (non-negative weights); for the
        # non-convex loss of negative weights, negative curvature is turned into positive.
        self.vals = np.maximum(np.abs(vals), max(scale * 1e-12, 1e-300))

    def direction(self, g: FloatArray) -> FloatArray:
        """``-H^-1 g``."""
        return np.asarray(-(self.vecs @ ((self.vecs.T @ g) / self.vals)), dtype=np.float64)


class LogisticRegression(Classifier):
    """Logistic regression (binary sigmoid / multinomial softmax) written with NumPy.

    Parameters
    ----------
    C : inverse L2 strength as in scikit-learn (larger = weaker penalty; ``inf`` = none).
    solver : ``"newton"`` (second order with line search, default) or ``"gd"`` (fixed-step
        gradient descent).
    max_iter : maximum number of iterations (Newton steps or gradient steps).
    tol : stop when the largest gradient component of the (weight-normalised) objective is
        at most ``tol``.
    learning_rate : step size of ``solver="gd"`` (and the first trial step of the line-search
        fallback of large multinomial problems).
    fit_intercept : fit an unpenalised intercept per class row.
    chunk_size : rows per chunk when accumulating the Hessian (memory vs. BLAS efficiency).

    Learned attributes: ``classes_``, ``coef_`` (1 or K, d), ``intercept_`` (1 or K,),
    ``n_iter_``, ``loss_history_`` (objective before the first and after every iteration),
    ``converged_``, ``n_features_in_``.
    """

    family: ClassVar[str] = "logistic"

    def __init__(
        self,
        C: float = 1.0,
        *,
        solver: str = "newton",
        max_iter: int = 100,
        tol: float = 1e-8,
        learning_rate: float = 0.5,
        fit_intercept: bool = True,
        chunk_size: int = 8192,
    ) -> None:
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.chunk_size = chunk_size

    # -- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.solver not in SOLVERS:
            raise ConfigError(
                f"LogisticRegression: solver '{self.solver}' is not known"
                f"{suggest(str(self.solver), SOLVERS)} (allowed: {', '.join(SOLVERS)})"
            )
        checks: list[tuple[str, Any, bool, str]] = [
            ("C", self.C, _num(self.C) and float(self.C) > 0, "a number > 0 (inf: no penalty)"),
            (
                "max_iter",
                self.max_iter,
                isinstance(self.max_iter, int | np.integer) and int(self.max_iter) >= 1,
                "an integer >= 1",
            ),
            ("tol", self.tol, _num(self.tol) and 0 <= float(self.tol) < np.inf, "a number >= 0"),
            (
                "learning_rate",
                self.learning_rate,
                _num(self.learning_rate) and 0 < float(self.learning_rate) < np.inf,
                "a finite number > 0",
            ),
            (
                "chunk_size",
                self.chunk_size,
                isinstance(self.chunk_size, int | np.integer) and int(self.chunk_size) >= 1,
                "an integer >= 1",
            ),
        ]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ConfigError(
                    f"LogisticRegression: {name}={value!r} is not allowed; use {allowed}"
                )

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        """Like the base class, but float32 input stays float32 (no float64 copy of the whole
        array: the solver converts chunk by chunk)."""
        arr = self._feature_array(X, dtype=(np.float64, np.float32))
        self._check_n_features(arr, reset=reset)
        return arr

    # -- fitting -----------------------------------------------------------------------------
    def _fit(self, X: FloatArray, y: NDArray[np.int64], w: FloatArray, **fit_params: Any) -> None:
        self._check_params()
        n_classes = int(np.asarray(self.classes_).size)
        totals = np.bincount(y, weights=w, minlength=n_classes)
        if np.any(totals <= 0):
            k = int(np.argmin(totals))
            label = np.asarray(self.classes_)[k]
            label = label.item() if isinstance(label, np.generic) else label
            raise DataError(
                f"class {label!r} has total sample weight "
                f"{totals[k]:.6g} <= 0: the weighted loss has no minimum (the intercept would "
                "run away); use the negative-weight policy 'abs' or 'drop' "
                "(Dataset.training_weight) or fewer negative weights"
            )
        prob = _Problem(
            X, y, w, n_classes, float(self.C), bool(self.fit_intercept), int(self.chunk_size)
        )
        history: list[float] = []
        max_iter = int(self.max_iter)
        theta = prob.initial()
        if self.solver == "gd":
            theta, n_iter, converged = _gradient_descent(
                prob, theta, float(self.learning_rate), max_iter, float(self.tol), history, False
            )
        elif prob.p > NEWTON_MAX_PARAMS:
            theta, n_iter, converged = _gradient_descent(
                prob, theta, float(self.learning_rate), max_iter, float(self.tol), history, True
            )
        else:
            args = (n_classes, float(self.C), bool(self.fit_intercept), int(self.chunk_size))
            sub = metric = None
            step, fine = max(4, prob.n // WARM_START_ROWS), max(4, prob.n // HESSIAN_ROWS)
            if prob.n > WARM_START_MIN_ROWS:
                sub = _strided(X, y, w, step, *args)
            if sub is not None:
                theta, _, _ = _newton(sub, theta, max_iter, max(float(self.tol), 1e-5), [])
                metric = (_strided(X, y, w, fine, *args) if fine < step else None) or sub
            theta, n_iter, converged = _newton(
                prob, theta, max_iter, float(self.tol), history, approx=metric
            )
        if not converged:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"LogisticRegression (solver={self.solver}) did not reach tol={self.tol:g} in "
                f"max_iter={max_iter} iterations; increase max_iter or scale the features",
                ConvergenceWarning,
                stacklevel=3,
            )
        W, b = prob.unpack(theta)
        if not prob.binary:
            b = b - b.mean()  # softmax is unchanged by a common shift of the intercepts
        self.coef_ = np.array(W, dtype=np.float64)
        self.intercept_ = np.array(b, dtype=np.float64)
        self.n_iter_ = int(n_iter)
        self.loss_history_ = np.asarray(history, dtype=np.float64)
        self.converged_ = bool(converged)

    def _predict_proba(self, X: FloatArray) -> FloatArray:
        eta = np.asarray(X, dtype=np.float64) @ self.coef_.T
        eta += self.intercept_
        if self.coef_.shape[0] == 1:
            p = _expit(eta[:, 0])
            return np.column_stack([1.0 - p, p])
        return _softmax(eta)

    # -- files -------------------------------------------------------------------------------
    def _get_state(self, directory: Path) -> dict[str, Any]:
        np.savez(directory / PAYLOAD, coef=self.coef_, intercept=self.intercept_)
        return {
            "payload": PAYLOAD,
            "n_iter": int(self.n_iter_),
            "converged": bool(self.converged_),
            "loss_history": [float(v) for v in self.loss_history_],
        }

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        path = payload_path(directory, state.get("payload", PAYLOAD))
        data = read_npz(path, "logistic weights")
        try:
            coef = np.asarray(data["coef"], dtype=np.float64)
            intercept = np.asarray(data["intercept"], dtype=np.float64)
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"cannot read logistic weights from '{path}': {exc}") from None
        n_classes = int(np.asarray(self.classes_).size)
        rows = 1 if n_classes == 2 else n_classes
        if coef.shape != (rows, self.n_features_in_) or intercept.shape != (rows,):
            raise ModelError(
                f"'{path}' holds coef {coef.shape} and intercept {intercept.shape}; expected "
                f"({rows}, {self.n_features_in_}) and ({rows},) for {n_classes} classes"
            )
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = int(state.get("n_iter", 0))
        self.converged_ = bool(state.get("converged", True))
        self.loss_history_ = np.asarray(state.get("loss_history", []), dtype=np.float64)

    def _onnx_proto(self) -> Any:
        """MatMul + Add + Sigmoid/Softmax built by hand: input ``X`` float32 (n, d), output
        ``probabilities`` float32 (n, n_classes), the columns of :meth:`predict_proba`."""
        return _onnx_model(self.coef_, self.intercept_)


def _num(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _line_search(
    prob: _Problem,
    theta: FloatArray,
    eta: FloatArray,
    f0: float,
    g: FloatArray,
    direction: FloatArray,
    t0: float,
) -> tuple[float, FloatArray, FloatArray, float] | None:
    """Armijo backtracking along ``direction``; returns (t, theta, eta, f) or None."""
    slope = float(g @ direction)
    if not slope < 0:
        return None
    d_eta = prob.eta(direction)  # the change of the linear predictor per unit step
    t = t0
    for _ in range(50):
        new_theta = theta + t * direction
        new_eta = eta + t * d_eta
        f = prob.loss(new_eta, new_theta)
        if np.isfinite(f) and f <= f0 + 1e-4 * t * slope:
            return t, new_theta, new_eta, f
        t *= 0.5
    return None


@_single_threaded_blas
def _newton(
    prob: _Problem,
    theta: FloatArray,
    max_iter: int,
    tol: float,
    history: list[float],
    approx: _Problem | None = None,
) -> tuple[FloatArray, int, bool]:
    """Damped Newton. Near the optimum (last full step cut the gradient >= 10x) the previous
    Hessian is reused (a chord step: linear convergence at a tiny rate, no n d^2 work); as
    soon as a step does less well, the Hessian is recomputed.

    ``approx``: a subsample of the same problem (same parameters, same penalty per unit
    weight) whose Hessian stands in for the full-data one: a Newton step in the subsample's
    metric on the full-data gradient converges linearly at a rate of about the Hessian's
    relative sampling error, without any n d^2 work on the full data. When a step cuts the
    gradient less than ``APPROX_MIN_GAIN`` times, or fails, exact Hessians take over."""
    eta = prob.eta(theta)
    f = prob.loss(eta, theta)
    history.append(f)
    system: _NewtonSystem | None = None
    H_approx: FloatArray | None = None
    theta_prev = g_prev = theta
    reuse = False
    gmax_prev = np.inf
    for it in range(max_iter + 1):
        P = prob.proba(eta)
        g = prob.gradient(P, theta)
        gmax = float(np.max(np.abs(g)))
        if gmax <= tol:
            return theta, it, True
        if it == max_iter:
            break
        if approx is not None:
            if gmax * APPROX_MIN_GAIN > gmax_prev:  # the subsample metric is not good enough
                approx = None
            else:
                if H_approx is None:
                    H_approx = approx.hessian(approx.proba(approx.eta(theta)))
                else:  # BFGS: the full-data curvature along the last step corrects it
                    H_approx = _bfgs_update(H_approx, theta - theta_prev, g - g_prev)
                system = _NewtonSystem(H_approx)
                reuse = True
        theta_prev, g_prev = theta, g
        if approx is None:
            reuse = reuse and gmax <= 0.1 * gmax_prev
            if system is None or not reuse:
                system = _NewtonSystem(prob.hessian(P))
        assert system is not None
        direction = system.direction(g)
        if -float(g @ direction) <= 1e-15 * max(1.0, abs(f)):
            if reuse:  # stalled on an old or approximate Hessian: retry with a fresh one
                reuse, gmax_prev, approx = False, np.inf, None
                continue
            return theta, it, True  # no further decrease representable in float64
        step = _line_search(prob, theta, eta, f, g, direction, 1.0)
        if step is None:
            if reuse:
                reuse, gmax_prev, approx = False, np.inf, None
                continue
            return theta, it, True  # at the numerical optimum along every descent direction
        t, theta, eta, f = step
        history.append(f)
        reuse = t == 1.0
        gmax_prev = gmax
    return theta, max_iter, False


def _strided(
    X: NDArray[np.floating[Any]],
    y: NDArray[np.int64],
    w: FloatArray,
    step: int,
    n_classes: int,
    C: float,
    fit_intercept: bool,
    chunk_size: int,
) -> _Problem | None:
    """The problem on every ``step``-th row, with the same penalty per unit weight (None when
    the subsample lacks a class or weight)."""
    w_sub = w[::step]
    sub_total = float(np.abs(w_sub).sum())
    if sub_total <= 0 or not np.all(np.bincount(y[::step], minlength=n_classes)):
        return None
    c_sub = C * sub_total / float(np.abs(w).sum())
    # small subsamples are copied compactly (used for many passes); larger ones stay strided
    # views (BLAS takes rows with a leading dimension of step * d; float32 converts by chunk)
    rows = X[::step] if len(w_sub) > WARM_START_ROWS else np.ascontiguousarray(X[::step])
    return _Problem(rows, y[::step], w_sub, n_classes, c_sub, fit_intercept, chunk_size)


def _bfgs_update(H: FloatArray, s: FloatArray, y: FloatArray) -> FloatArray:
    """The BFGS update of the Hessian approximation ``H`` with step ``s`` and gradient change
    ``y`` (unchanged when the curvature ``y.s`` is not positive)."""
    ys = float(y @ s)
    Hs = H @ s
    sHs = float(s @ Hs)
    if not (ys > 1e-12 * float(np.linalg.norm(y) * np.linalg.norm(s)) and sHs > 0):
        return H
    return H - np.outer(Hs, Hs) / sHs + np.outer(y, y) / ys


@_single_threaded_blas
def _gradient_descent(
    prob: _Problem,
    theta: FloatArray,
    learning_rate: float,
    max_iter: int,
    tol: float,
    history: list[float],
    line_search: bool,
) -> tuple[FloatArray, int, bool]:
    eta = prob.eta(theta)
    f = prob.loss(eta, theta)
    history.append(f)
    t = learning_rate
    for it in range(max_iter + 1):
        g = prob.gradient(prob.proba(eta), theta)
        if float(np.max(np.abs(g))) <= tol:
            return theta, it, True
        if it == max_iter:
            break
        if line_search:
            step = _line_search(prob, theta, eta, f, g, -g, min(4.0 * t, 1e6))
            if step is None:
                return theta, it, True
            t, theta, eta, f = step
        else:
            theta = theta - learning_rate * g
            eta = prob.eta(theta)
            f = prob.loss(eta, theta)
        history.append(f)
    return theta, max_iter, False


def _onnx_model(coef: FloatArray, intercept: FloatArray) -> Any:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rows, d = coef.shape
    n_out = 2 if rows == 1 else rows
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(coef.T, dtype=np.float32), "coef_t"),
        numpy_helper.from_array(np.asarray(intercept, dtype=np.float32), "intercept"),
    ]
    nodes = [
        helper.make_node("MatMul", ["X", "coef_t"], ["linear"]),
        helper.make_node("Add", ["linear", "intercept"], ["logit"]),
    ]
    if rows == 1:
        inits.append(numpy_helper.from_array(np.ones((1, 1), dtype=np.float32), "one"))
        nodes += [
            helper.make_node("Sigmoid", ["logit"], ["p_signal"]),
            helper.make_node("Sub", ["one", "p_signal"], ["p_background"]),
            helper.make_node("Concat", ["p_background", "p_signal"], ["probabilities"], axis=1),
        ]
    else:
        nodes.append(helper.make_node("Softmax", ["logit"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes,
        "hepsift_logistic",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, d])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_out])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="hepsift",
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8  # readable by every onnxruntime that knows opset 17
    onnx.checker.check_model(model)
    return model
