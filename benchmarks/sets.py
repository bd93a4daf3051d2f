"""Set-model benchmark: DeepSets against the MLP on the same events, both in this run.

Prints, each as a ratio to the MLP measured in the same process:

1. Training time per epoch (best epoch's wall time of the shared torch loop, one thread,
   batch 256, the same events): DeepSets phi (64, 64), rho (64,), ``sum`` pooling on 10 object
   slots x 13 fields (the higgs-modes layout: photon 2, jet 6, lep 2 with kinematics, extras and
   the type one-hot) vs MLP (64, 64) on 17 aggregated features. Target: ratio <= 3.
2. Inference on ONE core (torch.set_num_threads(1)), every event with 10 present objects:
   events/s of ``DeepSets.predict_proba`` vs ``MLP.predict_proba`` (CPU time, best of repeats,
   measured alternately). Target: DeepSets rate >= 1/15 of the MLP's.

Each pooling (sum, mean, max, attention) is timed for inference.

Usage: ``python benchmarks/sets.py [--quick]`` (quick: 100k inference events, 20k training).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SLOTS, FIELDS, FEATURES = 10, 13, 17


def cpu_time(fn: Callable[[], Any]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def paired(a: Callable[[], Any], b: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best CPU times of ``a`` and ``b``, measured alternately so that load drifts hit both."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(cpu_time(a))
        tb.append(cpu_time(b))
    return min(ta), min(tb)


def events(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X aggregated (n, 17), values (n, 10, 13), mask (n, 10) all present, y)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, SLOTS, FIELDS)).astype(np.float32)
    mask = np.ones((n, SLOTS), dtype=bool)
    X = rng.normal(size=(n, FEATURES)).astype(np.float32)
    y = ((values[..., 0] > 1.0) & (values[..., 1] < 0)).any(axis=1).astype(np.int64)
    return X, values, mask, y


def main() -> None:
    import torch

    import hepsift.models as models

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_train = 20_000 if args.quick else 50_000
    n_infer = 100_000 if args.quick else 300_000
    repeat = 3

    X, V, M, y = events(n_train, 0)
    common = {"epochs": 3, "batch_size": 256, "num_threads": 1, "patience": 10}
    mlp = models.create("mlp", hidden=(64, 64), **common).fit(X, y)
    ds = models.create(
        "deepsets", phi=(64, 64), rho=(64,), pooling="sum", event_features=False, **common
    ).fit(X, y, objects=(V, M))
    t_mlp = min(mlp.history_.seconds)
    t_ds = min(ds.history_.seconds)
    print(f"training, {n_train} events, 1 thread, batch 256 (best epoch wall time):")
    print(f"  MLP(64,64) on {FEATURES} features:      {t_mlp:.3f} s/epoch")
    print(f"  DeepSets sum on {SLOTS}x{FIELDS} objects: {t_ds:.3f} s/epoch")
    print(f"  ratio DeepSets / MLP = {t_ds / t_mlp:.2f}  (target <= 3)")

    Xb, Vb, Mb, _ = events(n_infer, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        print(f"inference, {n_infer} events with {SLOTS} objects each, 1 core (CPU time):")
        for pooling in ("sum", "mean", "max", "attention"):
            model = ds
            if pooling != "sum":
                model = models.create(
                    "deepsets", phi=(64, 64), rho=(64,), pooling=pooling, event_features=False,
                    **{**common, "epochs": 1},
                ).fit(X[:2000], y[:2000], objects=(V[:2000], M[:2000]))  # fmt: skip
            t_m, t_d = paired(
                lambda: mlp.predict_proba(Xb),
                lambda m=model: m.predict_proba(Xb, objects=(Vb, Mb)),  # type: ignore[misc]
                repeat,
            )
            r_m, r_d = n_infer / t_m, n_infer / t_d
            print(
                f"  {pooling:9s}: DeepSets {r_d / 1e3:8.1f} k events/s, MLP {r_m / 1e3:8.1f} k "
                f"events/s, ratio MLP / DeepSets = {r_m / r_d:.1f}  (target <= 15)"
            )
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
