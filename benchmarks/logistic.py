"""Benchmark: hepsift's NumPy LogisticRegression (Newton) against scikit-learn's lbfgs.

Seeded two-class Gaussian mixture (different means and covariances, AUC ~ 0.85), 1,000,000 x 28
by default. Prints fit times and their ratio ours / sklearn (target <= 1), test AUCs and
|dAUC| (target < 0.001), and the peak memory allocated during our fit relative to the input
array (tracemalloc; target <= 2). Both use the same L2 strength (same ``C``, same objective).

    .venv/bin/python benchmarks/logistic.py            # 1e6 x 28
    .venv/bin/python benchmarks/logistic.py --quick    # 1e5 x 28
    .venv/bin/python benchmarks/logistic.py --n 300000
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np
from numpy.typing import NDArray

Params = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def make_params(d: int, rng: np.random.Generator) -> Params:
    """Signal mean shift and the two classes' mixing matrices (covariance A A^T)."""
    mean_s = rng.normal(0.0, 0.25, d)
    a_b = rng.normal(0.0, 1.0 / np.sqrt(d), (d, d)) + np.eye(d)
    a_s = rng.normal(0.0, 1.0 / np.sqrt(d), (d, d)) + 0.8 * np.eye(d)
    return mean_s, a_b, a_s


def make_data(
    n: int, params: Params, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``n`` events, signal fraction 0.5, from the two Gaussian classes of ``params``."""
    mean_s, a_b, a_s = params
    y = (rng.random(n) < 0.5).astype(np.int64)
    X = rng.standard_normal((n, mean_s.size))
    sig = y == 1
    X[~sig] = X[~sig] @ a_b.T
    X[sig] = X[sig] @ a_s.T + mean_s
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="training events")
    parser.add_argument("--d", type=int, default=28, help="features")
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (both)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each fit this many times, keep the fastest"
    )
    args = parser.parse_args()
    n = 100_000 if args.quick else args.n

    from sklearn.linear_model import LogisticRegression as SkLogistic

    from hepsift.metrics import auc
    from hepsift.models.logistic import LogisticRegression

    rng = np.random.default_rng(args.seed)
    params = make_params(args.d, rng)
    X, y = make_data(n, params, rng)
    X_test, y_test = make_data(min(n, 200_000), params, rng)

    # warm-up (imports, BLAS threads) on a small slice, not timed
    LogisticRegression(C=args.C).fit(X[:2000], y[:2000])
    SkLogistic(C=args.C).fit(X[:2000], y[:2000])

    t_ours, t_ref = np.inf, np.inf
    for _ in range(max(1, args.repeat)):  # interleaved, so machine load hits both alike
        t0 = time.perf_counter()
        ours = LogisticRegression(C=args.C).fit(X, y)
        t_ours = min(t_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = SkLogistic(C=args.C, solver="lbfgs").fit(X, y)
        t_ref = min(t_ref, time.perf_counter() - t0)

    def peak_ratio(data: NDArray[np.floating]) -> tuple[float, float]:
        tracemalloc.start()
        LogisticRegression(C=args.C).fit(data, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / data.nbytes, peak / 2**20

    mem64, mib64 = peak_ratio(X)
    X32 = X.astype(np.float32)
    mem32, mib32 = peak_ratio(X32)
    del X32

    auc_ours = auc(y_test, ours.predict_proba(X_test)[:, 1])
    auc_ref = auc(y_test, ref.predict_proba(X_test)[:, 1])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"data: {n:,} x {args.d} float64 ({X.nbytes / 2**20:.0f} MiB), C={args.C:g}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
    print(
        f"hepsift newton : fit {t_ours:7.3f} s  ({ours.n_iter_} full-data Newton iterations after a subsample warm start)"
    )
    print(f"sklearn lbfgs  : fit {t_ref:7.3f} s  ({int(np.max(ref.n_iter_))} iterations)")
    print(f"ratio ours/sklearn fit time: {t_ours / t_ref:.2f}   (target <= 1.0)")
    print(
        f"test AUC: ours {auc_ours:.5f}  sklearn {auc_ref:.5f}  |dAUC| {abs(auc_ours - auc_ref):.2e}"
    )
    print(f"max |coef difference|: {np.max(np.abs(ours.coef_ - ref.coef_)):.2e}")
    print(
        f"peak memory of our fit / input array: float64 input {mem64:.2f} ({mib64:.0f} MiB), "
        f"float32 input {mem32:.2f} ({mib32:.0f} MiB)   (target <= 2.0)"
    )


if __name__ == "__main__":
    main()
