"""Benchmark: autoencoder training time per epoch against the MLP's on the same events.

Both families train through the one torch loop (:func:`hepsift.train.torch_loop.train_module`)
on the same seeded events (``--events`` x ``--features``, a correlated Gaussian bulk), with the
same batch size, validation fraction (0.2), epochs and one thread; hidden layers as shipped
(autoencoder ``(32, 4, 32)`` in configs/anomaly-hgg.yaml, MLP ``(64, 64)`` in
configs/higgs-diphoton.yaml). The per-epoch time is the median of the loop's own wall-time
record (``history_.seconds``: training plus validation). Prints the ratio (target <= 1.5).

    .venv/bin/python benchmarks/anomaly.py [--events N] [--features D] [--epochs E]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _events(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d))
    X = rng.normal(size=(n, d)) @ mix
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def _epoch_seconds(model: object) -> float:
    history = model.history_  # type: ignore[attr-defined]
    return float(np.median(history.seconds))


def main() -> None:
    from hepsift.models import create

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--features", type=int, default=13)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    X, y = _events(args.events, args.features, args.seed)
    common = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "patience": args.epochs + 1,  # no early stop: every run trains all epochs
        "validation_fraction": 0.2,
        "num_threads": 1,
        "seed": args.seed,
    }
    results = {}
    for repeat in range(2):  # alternate, so a load change on a shared machine hits both
        for name, family, hidden in (
            ("mlp", "mlp", (64, 64)),
            ("autoencoder", "autoencoder", (32, 4, 32)),
        ):
            model = create(family, hidden=hidden, **common)
            t0 = time.perf_counter()
            model.fit(X) if family == "autoencoder" else model.fit(X, y)
            wall = time.perf_counter() - t0
            per_epoch = _epoch_seconds(model)
            results.setdefault(name, []).append(per_epoch)
            print(f"  {name:12s} run {repeat}: {per_epoch * 1e3:8.1f} ms/epoch ({wall:.1f} s fit)")
    mlp = min(results["mlp"])
    ae = min(results["autoencoder"])
    print(f"events {args.events} x {args.features}, batch {args.batch_size}, 1 thread")
    print(f"MLP         {mlp * 1e3:8.1f} ms/epoch (best of 2 medians)")
    print(f"autoencoder {ae * 1e3:8.1f} ms/epoch (best of 2 medians)")
    print(f"ratio autoencoder / MLP per epoch = {ae / mlp:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
