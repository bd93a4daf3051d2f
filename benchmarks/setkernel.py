"""Benchmark: the set kernel's memory and time against the number of training events N.

The pyramid-match kernel SVM (``set-kernel``) holds the N x N training kernel matrix, so
memory grows as N^2 and time as N^2 (kernel) to N^3 (libsvm); ``fit`` refuses more than
``max_train_events`` (default 4000) events. For N = 1000, 2000, 4000 (``--sizes``) this
prints, each N in a fresh process (so the peak resident memory is that fit's own):

- ``fit [s]``: wall time of one fit (kernel, calibration folds, final SVCs);
- ``peak RSS [MB]`` and ``RSS over baseline [MB]``: the process's peak resident memory, and
  that minus the resident memory after the same imports and the data before the fit;
- ``kernel [MB]``: the size of the N x N float64 matrix (8 N^2 bytes);
- ``predict [ev/s]``: ``predict_proba`` rate on 2000 held-out events;
- ``support``: support sets kept (the saved model grows with them).

Data: the five-mode toy of :func:`hepsift.studies.sets.toy_dataset` (photons 2, jets 4,
leptons 2, MET; 8 fields with the one-hot types) — the kernel's cost depends on N and the
number of slots, not on the physics. ``--study`` also runs ``hepsift study sets`` on the
generated higgs-modes data (all contenders, 3 seeds) and prints its tables.

    .venv/bin/python benchmarks/setkernel.py
    .venv/bin/python benchmarks/setkernel.py --sizes 1000,2000 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def one(n: int, seed: int) -> dict[str, float]:
    """Fit the set kernel on N toy events in this process; measurements as a dict."""
    import numpy as np

    from hepsift import models
    from hepsift.studies.sets import balanced_subsample, toy_dataset

    ds = toy_dataset(n // 5 + 1000, seed=seed)
    rng = np.random.default_rng(seed)
    train = balanced_subsample(np.arange(len(ds)), ds.y, n, rng)
    rest = np.setdiff1d(np.arange(len(ds)), train)[:2000]
    assert ds.objects is not None
    objs, test_objs = ds.objects[train], ds.objects[rest]
    names = ds.objects.fields
    params = {
        "fields": tuple(names.index(f) for f in ("log_pt", "eta_rel", "dphi")),
        "type_fields": tuple(i for i, f in enumerate(names) if f.startswith("is_")),
        "seed": seed,
    }
    X = np.zeros((len(train), 0), dtype=np.float32)
    base = _rss_mb()
    t0 = time.perf_counter()
    model = models.create("set-kernel", **params).fit(X, ds.y[train], objects=objs)
    fit = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    model.predict_proba(np.zeros((len(rest), 0)), objects=test_objs)
    rate = len(rest) / (time.perf_counter() - t0)
    return {
        "n": float(len(train)),
        "fit_seconds": fit,
        "peak_rss_mb": peak,
        "rss_over_baseline_mb": peak - base,
        "kernel_mb": 8.0 * len(train) ** 2 / 1e6,
        "predict_rate": rate,
        "support": float(model.n_support_),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000", help="training events N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--study", action="store_true", help="also run hepsift study sets")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.seed)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print("set-kernel (pyramid match, 4 levels, 4 types; toy objects: 9 slots, 8 fields)")
    print(
        f"{'N':>6} {'fit [s]':>8} {'peak RSS [MB]':>14} {'RSS over base [MB]':>19} "
        f"{'kernel [MB]':>12} {'predict [ev/s]':>15} {'support':>8}"
    )
    for r in rows:
        print(
            f"{r['n']:>6.0f} {r['fit_seconds']:>8.2f} {r['peak_rss_mb']:>14.0f} "
            f"{r['rss_over_baseline_mb']:>19.0f} {r['kernel_mb']:>12.0f} "
            f"{r['predict_rate']:>15.3g} {r['support']:>8.0f}"
        )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        ratio = b["n"] / a["n"]
        print(
            f"N x{ratio:g}: fit time x{b['fit_seconds'] / a['fit_seconds']:.1f}, memory over "
            f"baseline x{b['rss_over_baseline_mb'] / max(a['rss_over_baseline_mb'], 1e-9):.1f} "
            f"(N^2 would be x{ratio**2:g})"
        )
    if args.study:
        code = "from hepsift.cli import main; raise SystemExit(main(['study', 'sets']))"
        subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
