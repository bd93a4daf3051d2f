"""LogisticRegression from scratch: scikit-learn contract and solutions, numeric derivatives,
independent optimiser references, files and ONNX parity."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.utils.estimator_checks import parametrize_with_checks

from hepsift.errors import ConfigError, DataError, ModelError
from hepsift.models import logistic as logistic_module
from hepsift.models.base import Classifier
from hepsift.models.logistic import LogisticRegression, _Problem
from hepsift.models.registry import create


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_estimator_contract(estimator: LogisticRegression, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def _binary_data(
    rng: np.random.Generator, n: int = 2000, d: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d) + rng.normal(0, 1, d)
    beta = rng.normal(size=d)
    y = ((X - X.mean(0)) @ beta + rng.logistic(size=n) > 0).astype(int)
    w = rng.uniform(0.2, 2.0, n)
    return X, y, w


def _reference_objective(theta: np.ndarray, X, y, w, C: float, n_classes: int) -> float:
    """The documented objective, written independently: sum w * CE + ||W||^2 / (2C)."""
    d = X.shape[1]
    if n_classes == 2:
        coef, b = theta[:d], theta[d]
        z = X @ coef + b
        ce = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - y * z
        return float(w @ ce + coef @ coef / (2 * C))
    M = theta.reshape(n_classes, d + 1)
    Z = X @ M[:, :d].T + M[:, d]
    lse = np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1)) + Z.max(1)
    ce = lse - Z[np.arange(len(y)), y]
    return float(w @ ce + np.sum(M[:, :d] ** 2) / (2 * C))


# -- solutions against scikit-learn ----------------------------------------------------------
@pytest.mark.parametrize("C", [0.01, 1.0, 1e4])
def test_binary_matches_sklearn(rng: np.random.Generator, C: float) -> None:
    X, y, w = _binary_data(rng)
    ours = LogisticRegression(C=C).fit(X, y, sample_weight=w)
    ref = SkLogistic(C=C, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=w)
    assert ours.coef_.shape == (1, X.shape[1])
    assert ours.intercept_.shape == (1,)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert ours.converged_
    assert np.all(np.diff(ours.loss_history_) <= 1e-15)  # monotone descent


@pytest.mark.parametrize("C", [0.1, 100.0])
def test_multinomial_matches_sklearn(C: float) -> None:
    X, y = load_iris(return_X_y=True)
    ours = LogisticRegression(C=C).fit(X, y)
    ref = SkLogistic(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    assert ours.coef_.shape == (3, 4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-3 * max(1.0, np.abs(ref.coef_).max()))
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_no_intercept_matches_sklearn(rng: np.random.Generator) -> None:
    X, y, w = _binary_data(rng, n=800)
    ours = LogisticRegression(C=0.5, fit_intercept=False).fit(X, y, sample_weight=w)
    ref = SkLogistic(C=0.5, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(
        X, y, sample_weight=w
    )
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(ours.intercept_, [0.0])


# -- derivatives against finite differences --------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_gradient_and_hessian_match_finite_differences(
    rng: np.random.Generator, n_classes: int
) -> None:
    n, d = 60, 3
    X = rng.normal(size=(n, d))
    y = rng.integers(0, n_classes, n)
    w = rng.normal(1.0, 0.8, n)  # negative weights too: derivatives are exact anyway
    prob = _Problem(X, y, w, n_classes, C=0.7, fit_intercept=True, chunk_size=7)
    theta = rng.normal(0, 0.5, prob.p)

    def f(t: np.ndarray) -> float:
        return prob.loss(prob.eta(t), t)

    def grad(t: np.ndarray) -> np.ndarray:
        return prob.gradient(prob.proba(prob.eta(t)), t)

    # the objective is the documented one, scaled by 1 / sum|w|
    assert f(theta) == pytest.approx(
        _reference_objective(theta, X, y, w, 0.7, n_classes) / np.abs(w).sum(), rel=1e-12
    )
    h = 1e-6
    eye = np.eye(prob.p)
    num_g = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(grad(theta), num_g, rtol=1e-6, atol=1e-9)
    num_h = np.array([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in eye])
    H = prob.hessian(prob.proba(prob.eta(theta)))
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    np.testing.assert_allclose(H, num_h, rtol=1e-5, atol=1e-8)


# -- negative weights, solvers, fall-backs ---------------------------------------------------
def test_negative_weights_reach_the_reference_minimum(rng: np.random.Generator) -> None:
    X, y, w = _binary_data(rng, n=1500, d=4)
    w = w * np.where(rng.random(w.size) < 0.15, -0.5, 1.0)  # MC-like negative weights
    ours = LogisticRegression(C=1.0).fit(X, y, sample_weight=w)
    assert ours.converged_
    theta0 = np.zeros(X.shape[1] + 1)
    ref = minimize(
        _reference_objective, theta0, args=(X, y, w, 1.0, 2), method="BFGS",
        options={"gtol": 1e-9, "maxiter": 10_000},
    )  # fmt: skip
    ours_theta = np.concatenate([ours.coef_[0], ours.intercept_])
    f_ours = _reference_objective(ours_theta, X, y, w, 1.0, 2)
    assert f_ours <= ref.fun + 1e-8 * abs(ref.fun)
    np.testing.assert_allclose(ours_theta, ref.x, atol=1e-4)


def test_gd_solver_converges_to_newton(rng: np.random.Generator) -> None:
    X, y, w = _binary_data(rng, n=1000, d=3)
    X = (X - X.mean(0)) / X.std(0)
    newton = LogisticRegression(C=1.0).fit(X, y, sample_weight=w)
    gd = LogisticRegression(C=1.0, solver="gd", learning_rate=2.0, max_iter=5000, tol=1e-9)
    gd.fit(X, y, sample_weight=w)
    assert gd.converged_
    assert gd.n_iter_ > newton.n_iter_
    np.testing.assert_allclose(gd.coef_, newton.coef_, atol=1e-7)
    assert np.all(np.diff(gd.loss_history_) <= 1e-15)
    assert gd.loss_history_.size == gd.n_iter_ + 1


def test_gd_warns_when_not_converged(rng: np.random.Generator) -> None:
    X, y, _ = _binary_data(rng, n=300, d=3)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model = LogisticRegression(solver="gd", max_iter=3).fit(X, y)
    assert not model.converged_
    assert model.n_iter_ == 3


def test_large_multinomial_falls_back_to_line_search_gd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    newton = LogisticRegression(C=1.0, tol=1e-8).fit(X, y)
    monkeypatch.setattr(logistic_module, "NEWTON_MAX_PARAMS", 5)
    fallback = LogisticRegression(C=1.0, tol=1e-8, max_iter=20_000).fit(X, y)
    assert fallback.n_iter_ > newton.n_iter_
    np.testing.assert_allclose(fallback.predict_proba(X), newton.predict_proba(X), atol=1e-6)


def test_subsample_warm_start_gives_the_full_data_optimum(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y, w = _binary_data(rng, n=4000, d=4)
    full_hessians = _count_full_hessians(monkeypatch, len(X))
    plain = LogisticRegression(C=0.3).fit(X, y, sample_weight=w)
    n_plain = full_hessians()
    monkeypatch.setattr(logistic_module, "WARM_START_MIN_ROWS", 1000)
    monkeypatch.setattr(logistic_module, "WARM_START_ROWS", 400)
    warm = LogisticRegression(C=0.3).fit(X, y, sample_weight=w)
    assert full_hessians() < n_plain  # the point of the warm start: fewer n d^2 passes
    np.testing.assert_allclose(warm.coef_, plain.coef_, rtol=1e-6, atol=1e-9)


def _count_full_hessians(monkeypatch: pytest.MonkeyPatch, n: int) -> Callable[[], int]:
    """A function returning the Hessians computed on all ``n`` rows since its last call."""
    counts = [0]
    original = logistic_module._Problem.hessian

    def spy(self: _Problem, P: np.ndarray) -> np.ndarray:
        counts[0] += self.n == n
        return original(self, P)

    monkeypatch.setattr(logistic_module._Problem, "hessian", spy)

    def taken() -> int:
        value, counts[0] = counts[0], 0
        return value

    return taken


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["isotropic", "correlated"])
def test_large_fit_uses_subsample_hessians_and_matches_sklearn(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, kind: str, dtype: type
) -> None:
    """Large data: the subsample's Hessian drives the full-data steps (no full-data Hessian on
    an easy problem) and the optimum is still scikit-learn's."""
    n, d = 40_000, 8
    X = rng.standard_normal((n, d))
    if kind == "correlated":
        X = X @ (np.eye(d) + rng.normal(0, 0.6, (d, d)))
    y = (X @ rng.normal(0, 0.5, d) + rng.logistic(size=n) > 0).astype(int)
    X = X.astype(dtype)
    monkeypatch.setattr(logistic_module, "WARM_START_MIN_ROWS", 10_000)
    monkeypatch.setattr(logistic_module, "WARM_START_ROWS", 5_000)
    full_hessians = _count_full_hessians(monkeypatch, n)
    ours = LogisticRegression(C=0.5).fit(X, y)
    assert ours.converged_
    assert full_hessians() == 0
    ref = SkLogistic(C=0.5, tol=1e-10, max_iter=10_000).fit(X.astype(np.float64), y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4, atol=1e-6)


def test_nand_gate_is_learned() -> None:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([1, 1, 1, 0])
    model = LogisticRegression(C=1e4).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), y)
    assert model.coef_[0, 0] < 0 and model.coef_[0, 1] < 0 and model.intercept_[0] > 0


# -- parameters ------------------------------------------------------------------------------
def test_invalid_hyperparameters_raise_config_error(rng: np.random.Generator) -> None:
    X, y, _ = _binary_data(rng, n=50, d=2)
    with pytest.raises(ConfigError, match="did you mean 'newton'"):
        LogisticRegression(solver="newtn").fit(X, y)
    for bad in ({"C": 0.0}, {"C": -1.0}, {"max_iter": 0}, {"tol": -1.0}, {"learning_rate": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            LogisticRegression(**bad).fit(X, y)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown arguments"):
        LogisticRegression().fit(X, y, epochs=3)
    with pytest.raises(ConfigError):
        create("logistic", Cc=1.0)


def test_registry_and_unpenalised_fit(rng: np.random.Generator) -> None:
    X, y, _ = _binary_data(rng, n=500, d=3)
    model = create("logistic", C=np.inf)
    assert isinstance(model, LogisticRegression)
    model.fit(X, y)
    ref = SkLogistic(C=np.inf, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-6)


# -- files and ONNX --------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_save_load_roundtrip(tmp_path: Path, rng: np.random.Generator, n_classes: int) -> None:
    X = rng.normal(size=(300, 4))
    y = np.array(["bkg", "sig", "other"])[rng.integers(0, n_classes, 300)]
    model = LogisticRegression(C=2.0).fit(X, y)
    path = model.save(tmp_path / "m")
    meta = json.loads((path / "model.json").read_text())
    assert meta["family"] == "logistic"
    assert meta["params"]["C"] == 2.0
    with np.load(path / "logistic.npz", allow_pickle=False) as data:
        assert set(data.files) == {"coef", "intercept"}
    loaded = Classifier.load(path)
    assert isinstance(loaded, LogisticRegression)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.loss_history_, model.loss_history_)
    # a payload that does not fit the model is refused, not silently used
    np.savez(path / "logistic.npz", coef=np.zeros((5, 4)), intercept=np.zeros(5))
    with pytest.raises(ModelError, match="expected"):
        Classifier.load(path)


def _onnx_parity(model: LogisticRegression, X: np.ndarray, path: Path) -> float:
    import onnxruntime as ort

    written = model.to_onnx(path)
    assert written == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "X"
    (out,) = sess.run(None, {"X": X.astype(np.float32)})
    assert out.dtype == np.float32
    assert out.shape == (X.shape[0], len(model.classes_))
    return float(np.max(np.abs(out - model.predict_proba(X.astype(np.float32)))))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_onnx_parity(tmp_path: Path, rng: np.random.Generator, n_classes: int) -> None:
    X = rng.normal(size=(1000, 6))
    y = rng.integers(0, n_classes, 1000)
    X[:, 0] += y
    model = LogisticRegression(C=1.0).fit(X, y)
    assert _onnx_parity(model, X, tmp_path / "lr.onnx") <= 1e-5


def test_predict_proba_rows_sum_to_one_and_no_overflow(rng: np.random.Generator) -> None:
    X, y, _ = _binary_data(rng, n=200, d=3)
    model = LogisticRegression().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = model.predict_proba(X * 1e6)  # huge logits: no overflow warnings, no nan
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_input_is_fitted_in_float64_without_a_full_copy(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, n_classes: int
) -> None:
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = rng.integers(0, n_classes, 3000)
    X[:, 0] += y
    w = rng.uniform(0.5, 1.5, 3000)
    monkeypatch.setattr(logistic_module, "WARM_START_MIN_ROWS", 1000)  # strided path too
    monkeypatch.setattr(logistic_module, "WARM_START_ROWS", 500)
    ref = LogisticRegression(C=0.5, chunk_size=1000).fit(X.astype(np.float64), y, w)
    seen: list[np.dtype] = []
    original = logistic_module._Problem.__init__

    def spy(self, X, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(X.dtype)
        original(self, X, *args, **kwargs)

    monkeypatch.setattr(logistic_module._Problem, "__init__", spy)
    ours = LogisticRegression(C=0.5, chunk_size=1000).fit(X, y, w)
    assert seen and all(dt == np.float32 for dt in seen)  # the solver saw the float32 array
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-13)


def test_class_with_non_positive_total_weight_is_refused(rng: np.random.Generator) -> None:
    """Negative MC weights summing to <= 0 in a class leave the loss without a minimum."""
    X, y, w = _binary_data(rng, n=400, d=3)
    w = np.where(y == 1, -w, w)
    with pytest.raises(DataError, match=r"class 1 has total sample weight .* <= 0.*'abs'"):
        LogisticRegression().fit(X, y, sample_weight=w)
