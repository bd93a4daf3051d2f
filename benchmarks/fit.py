"""Benchmark: hepsift.inference's expected significance and CLs limit band against the same
quantities from pyhf's own calls, on one model, in the same run.

The model: one channel of ``--bins`` score bins (default 20), two samples (signal, background)
and three systematics (10 % background normalisation, 5 % signal normalisation, a background
shape variation), no MC statistical uncertainty unless ``--staterror``.

* pyhf directly: ``pyhf.infer.test_statistics.q0`` on the Asimov data of mu = 1 and
  ``pyhf.infer.intervals.upper_limits.upper_limit`` (toms748 root finding on ``hypotest``'s
  expected set) on the Asimov data of mu = 0.
* hepsift: :func:`hepsift.inference.expected_z` and :func:`hepsift.inference.expected_limits`
  (the asymptotic formulae: one conditional fit for Z, a few per band edge for the limits).
* the binning search (:func:`hepsift.inference.choose_binning`) on 10^5 background scores,
  against one conditional fit.

Each is timed ``--repeat`` times, interleaved, the fastest kept. Prints the times, the ratio
hepsift / pyhf (target <= 1.1) and the largest relative difference of the numbers.

    .venv/bin/python benchmarks/fit.py                 # 20 bins
    .venv/bin/python benchmarks/fit.py --bins 5 --repeat 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hepsift import inference as inf


def _model(bins: int, staterror: bool) -> Any:
    import pyhf

    x = np.linspace(0.025, 0.975, bins)
    s = 30.0 * x**3 + 0.2
    b = 400.0 * (1.0 - x) ** 2 + 3.0
    spec = inf.build_spec(
        {"signal": (s, 0.01 * s), "background": (b, 0.05 * b)},
        ["signal"],
        normsys={"bkg_norm": (0.1, {"background"}), "sig_norm": (0.05, {"signal"})},
        histosys={"bkg_shape": {"background": (b * (1 + 0.1 * x), b * (1 - 0.1 * x))}},
        staterror=staterror,
    )
    return pyhf.Workspace(inf.workspace(spec, list(b), mu_max=10.0)).model()


def _pyhf_direct(model: Any) -> tuple[float, list[float]]:
    import pyhf

    init, bounds, fixed = (
        model.config.suggested_init(),
        model.config.suggested_bounds(),
        model.config.suggested_fixed(),
    )
    p1 = list(init)
    p1[model.config.poi_index] = 1.0
    p0 = list(init)
    p0[model.config.poi_index] = 0.0
    q0 = pyhf.infer.test_statistics.q0(0.0, model.expected_data(p1), model, init, bounds, fixed)
    _, exp = pyhf.infer.intervals.upper_limits.upper_limit(model.expected_data(p0), model)
    return float(np.sqrt(q0)), [float(e) for e in exp]


def _ours(model: Any) -> tuple[float, list[float]]:
    return inf.expected_z(model), inf.expected_limits(model)


def _best(fn: Callable[[], Any], times: list[float]) -> Any:
    t = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--staterror", action="store_true")
    args = ap.parse_args()
    model = _model(args.bins, args.staterror)
    t_pyhf: list[float] = []
    t_ours: list[float] = []
    for _ in range(args.repeat):
        ref = _best(lambda: _pyhf_direct(model), t_pyhf)
        got = _best(lambda: _ours(model), t_ours)
    diff = max(
        abs(got[0] - ref[0]) / ref[0],
        *(abs(a - b) / b for a, b in zip(got[1], ref[1], strict=True)),
    )
    print(f"model: {args.bins} bins, 2 samples, 3 systematics, staterror={args.staterror}")
    print(
        f"pyhf direct (q0 + upper_limit): {min(t_pyhf):8.3f} s  Z={ref[0]:.4f} mu95={ref[1][2]:.4f}"
    )
    print(
        f"hepsift (expected_z + _limits): {min(t_ours):8.3f} s  Z={got[0]:.4f} mu95={got[1][2]:.4f}"
    )
    print(f"ratio hepsift / pyhf: {min(t_ours) / min(t_pyhf):.3f}  (target <= 1.1)")
    print(f"largest relative difference of Z and the 5 limits: {diff:.2e}")
    rng = np.random.default_rng(1)
    score, weight = rng.beta(2, 4, 100_000), rng.uniform(0.5, 1.5, 100_000)
    t_bin: list[float] = []
    t_fit: list[float] = []
    for _ in range(args.repeat):
        _best(lambda: inf.choose_binning(score, weight, inf.BinningRule(max_bins=args.bins)), t_bin)
        _best(lambda: inf.expected_z(model), t_fit)
    print(
        f"binning search on 1e5 scores: {min(t_bin):.4f} s; one Z fit: {min(t_fit):.4f} s; "
        f"ratio {min(t_bin) / min(t_fit):.3f} (target <= 1)"
    )


if __name__ == "__main__":
    main()
