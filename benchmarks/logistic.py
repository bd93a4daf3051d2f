"""Benchmark: hepsift's NumPy LogisticRegression against scikit-learn's, on a panel of data sets.

The reference is scikit-learn's ``LogisticRegression`` (lbfgs) measured in the same run on the
same arrays, with the same L2 strength ``C`` (the same objective: mean loss + ||w||^2 / (2 C n))
and the same tolerance (both stop when the largest gradient component of that objective is at
most ``--tol``; scikit-learn may also stop earlier on its relative-decrease test). Our solver
runs its matrix-vector products on one BLAS thread (many threads spin-wait on a shared
machine); scikit-learn is timed both with its default BLAS threads and with one, and the
faster of the two is the reference. Each fit is timed ``--repeat`` times, interleaved (machine
load hits all alike), and the fastest kept.

The panel: three kinds of data, each at several sizes, as float32 and as float64, 28 features:

* ``correlated``: two Gaussian classes with different means and covariances (AUC ~ 0.85): an
  ill-conditioned problem where a second-order solver pays off;
* ``well-conditioned``: independent unit Gaussians, the signal shifted (AUC ~ 0.75): lbfgs needs
  only a few iterations;
* ``higgs-like``: a HIGGS-like mix: skewed positive momenta (log-normal), angles (uniform,
  useless), discrete b-tags, and seven mass-like features that separate the classes, standardised
  as a run's scaler would.

Prints per entry: fit times, their ratio ours / scikit-learn (target <= 1), iterations, the
largest coefficient difference and the test AUC difference; then the peak memory allocated
during our fit relative to the input array (tracemalloc; target <= 2).

    .venv/bin/python benchmarks/logistic.py            # n = 1e5, 1e6, 4e6 (several minutes)
    .venv/bin/python benchmarks/logistic.py --quick    # n = 1e5 and 2e5
    .venv/bin/python benchmarks/logistic.py --n 200000 --kinds well-conditioned --dtypes float64
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Data = tuple[NDArray[np.float64], NDArray[np.int64]]
D = 28


def correlated(n: int, rng: np.random.Generator) -> Data:
    """Two Gaussian classes: signal mean shift, different mixing matrices (covariance A A^T)."""
    prm = np.random.default_rng(7)  # the same classes whatever the sample
    mean_s = prm.normal(0.0, 0.25, D)
    a_b = prm.normal(0.0, 1.0 / np.sqrt(D), (D, D)) + np.eye(D)
    a_s = prm.normal(0.0, 1.0 / np.sqrt(D), (D, D)) + 0.8 * np.eye(D)
    y = (rng.random(n) < 0.5).astype(np.int64)
    X = rng.standard_normal((n, D))
    sig = y == 1
    X[~sig] = X[~sig] @ a_b.T
    X[sig] = X[sig] @ a_s.T + mean_s
    return X, y


def well_conditioned(n: int, rng: np.random.Generator) -> Data:
    """Independent unit Gaussians; the signal is shifted along a fixed direction."""
    shift = np.random.default_rng(11).normal(0.0, 0.2, D)
    y = (rng.random(n) < 0.5).astype(np.int64)
    X = rng.standard_normal((n, D))
    X[y == 1] += shift
    return X, y


def higgs_like(n: int, rng: np.random.Generator) -> Data:
    """HIGGS-like columns (21 low-level, 7 high-level), standardised on the sample."""
    y = (rng.random(n) < 0.53).astype(np.int64)
    s = y[:, None].astype(np.float64)
    cols = []
    # 5 objects x (pT, eta, phi) + b-tag of the 4 jets + missing ET, its phi
    pt = rng.lognormal(mean=0.0 + 0.15 * s, sigma=0.5, size=(n, 5))
    eta = rng.normal(0.0, 1.0 - 0.1 * s, size=(n, 5))
    phi = rng.uniform(-np.pi, np.pi, size=(n, 5))
    btag = rng.binomial(2, 0.3 + 0.15 * s, size=(n, 4)).astype(np.float64)
    met = rng.lognormal(mean=0.1 * s, sigma=0.6, size=(n, 1))
    met_phi = rng.uniform(-np.pi, np.pi, size=(n, 1))
    cols += [pt, eta, phi, btag, met, met_phi]
    # 7 mass-like features: signal peaked, background a falling spectrum
    peak = rng.normal(1.0, 0.15, size=(n, 7))
    falling = rng.exponential(1.0, size=(n, 7)) + 0.3
    frac = 0.4 + 0.2 * rng.random((1, 7))
    mass = np.where((s > 0) & (rng.random((n, 7)) < frac), peak, falling)
    cols.append(mass)
    X = np.concatenate(cols, axis=1)
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X, y


KINDS: dict[str, Callable[[int, np.random.Generator], Data]] = {
    "correlated": correlated,
    "well-conditioned": well_conditioned,
    "higgs-like": higgs_like,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000, 4_000_000])
    parser.add_argument("--quick", action="store_true", help="n = 100,000 and 200,000")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    parser.add_argument(
        "--dtypes", nargs="+", choices=["float32", "float64"], default=["float32", "float64"]
    )
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (both)")
    parser.add_argument("--tol", type=float, default=1e-8, help="gradient tolerance (both)")
    parser.add_argument("--repeat", type=int, default=3, help="fits per entry, fastest kept")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    sizes = [100_000, 200_000] if args.quick else args.n

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from threadpoolctl import threadpool_limits

    from hepsift.metrics import auc
    from hepsift.models.logistic import LogisticRegression

    def ours() -> LogisticRegression:
        return LogisticRegression(C=args.C, tol=args.tol)

    def ref() -> SkLogistic:
        return SkLogistic(C=args.C, tol=args.tol, solver="lbfgs", max_iter=10_000)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"panel: {D} features, C={args.C:g}, tol={args.tol:g} (both), best of {args.repeat}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
    print(
        f"{'data':>16} {'n':>9} {'dtype':>7} | {'ours s':>7} {'it':>3} | {'sklearn s':>9} "
        f"{'1 thread':>8} {'it':>4} | {'ratio':>5} | {'max|dcoef|':>10} {'|dAUC|':>8}"
    )
    ratios = []
    memory = []
    for kind in args.kinds:
        for n in sizes:
            rng = np.random.default_rng(args.seed)
            X64, y = KINDS[kind](n, rng)
            X_test, y_test = KINDS[kind](min(n, 200_000), rng)
            for dtype in args.dtypes:
                X = X64 if dtype == "float64" else X64.astype(np.float32)
                # warm-up (imports, BLAS threads) on a small slice, not timed
                ours().fit(X[:2000], y[:2000])
                ref().fit(X[:2000], y[:2000])
                t_ours = t_ref = t_ref1 = np.inf
                for _ in range(max(1, args.repeat)):
                    t0 = time.perf_counter()
                    mine = ours().fit(X, y)
                    t_ours = min(t_ours, time.perf_counter() - t0)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        t0 = time.perf_counter()
                        theirs = ref().fit(X, y)
                        t_ref = min(t_ref, time.perf_counter() - t0)
                        with threadpool_limits(limits=1, user_api="blas"):
                            t0 = time.perf_counter()
                            ref().fit(X, y)
                            t_ref1 = min(t_ref1, time.perf_counter() - t0)
                best = min(t_ref, t_ref1)
                dcoef = float(np.max(np.abs(mine.coef_ - theirs.coef_)))
                dauc = abs(
                    auc(y_test, mine.predict_proba(X_test)[:, 1])
                    - auc(y_test, theirs.predict_proba(X_test)[:, 1])
                )
                ratios.append(t_ours / best)
                print(
                    f"{kind:>16} {n:>9,} {dtype:>7} | {t_ours:7.3f} {mine.n_iter_:>3} | "
                    f"{t_ref:9.3f} {t_ref1:8.3f} {int(np.max(theirs.n_iter_)):>4} | "
                    f"{t_ours / best:5.2f} | {dcoef:10.1e} {dauc:8.1e}",
                    flush=True,
                )
                if n == max(sizes) and kind == args.kinds[0]:
                    tracemalloc.start()
                    ours().fit(X, y)
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    memory.append(f"{dtype} {peak / X.nbytes:.2f} ({peak / 2**20:.0f} MiB)")
                del X
    print(
        f"peak memory allocated by our fit / input array, {args.kinds[0]} n={max(sizes):,}: "
        f"{', '.join(memory)}   (target <= 2.0)"
    )
    print(
        f"worst ratio ours / faster scikit-learn: {max(ratios):.2f}   (target <= 1.0); "
        f"'it': our full-data Newton iterations, lbfgs iterations"
    )


if __name__ == "__main__":
    main()
