"""What the ``cnn`` family learns on sphaleron vs black-hole event images, for given settings.

Reads ``black-hole.images.npz`` and ``sphaleron.images.npz`` from a folder written by
``hepsift generate multijet-bsm``, splits the events 60/20/20 (seeded), trains the CNN with the
hyperparameters given as JSON (validation split for early stopping) and prints, beside a
reference measured in the same run (a logistic regression on the three log channel sums, which
carry most of the separation), the per-epoch history and the held-out AUC, accuracy, mean score
and fraction of scores above 0.5 (a network stuck at one side of 0.5 has learned nothing).

    hepsift generate multijet-bsm --events 2000 --out data/bsm --workers 2
    .venv/bin/python benchmarks/cnn_learning.py data/bsm --events 2000 \\
        --params '{"epochs": 20, "patience": 6}'
    # the former defaults, for comparison:
    .venv/bin/python benchmarks/cnn_learning.py data/bsm --params \\
        '{"epochs": 20, "patience": 4, "norm": "batch", "channel_sums": false}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import hepsift.models as models

SAMPLES = ("black-hole", "sphaleron")  # label 0, 1


def load(folder: Path, per_sample: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of both samples, shuffled with ``seed``."""
    images, labels = [], []
    for label, sample in enumerate(SAMPLES):
        with np.load(folder / f"{sample}.images.npz", allow_pickle=False) as z:
            im = z["images"][:per_sample]
        images.append(im)
        labels.append(np.full(len(im), label))
    im, y = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(seed).permutation(len(y))
    return im[order], y[order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder of a multijet-bsm generation")
    ap.add_argument("--events", type=int, default=2000, help="events per sample")
    ap.add_argument("--params", default="{}", help="cnn hyperparameters as JSON")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    im, y = load(args.data, args.events, args.seed)
    n = len(y)
    a, b = int(0.6 * n), int(0.8 * n)
    tr, va, te = slice(0, a), slice(a, b), slice(b, n)

    sums = np.log(im.astype(np.float32).sum(axis=(2, 3)) + 1.0)
    ref = LogisticRegression().fit(sums[tr], y[tr])
    ref_auc = roc_auc_score(y[te], ref.predict_proba(sums[te])[:, 1])
    print(f"reference: logistic regression on the log channel sums, test AUC {ref_auc:.3f}")

    params: dict[str, Any] = {"num_threads": 2, "seed": args.seed, **json.loads(args.params)}
    X = np.zeros((n, 0), dtype=np.float32)
    model = models.create("cnn", **params)
    t0 = time.perf_counter()
    model.fit(X[tr], y[tr], images=im[tr], eval_set=(X[va], y[va]), eval_images=im[va])
    seconds = time.perf_counter() - t0
    history = model.history_
    for key in ("train_loss", "val_loss", "train_auc", "val_auc"):
        values = getattr(history, key, None)
        if values:
            print(f"  {key}: {[round(float(v), 4) for v in values]}")
    p_tr = model.predict_proba(X[tr], images=im[tr])[:, 1]
    p_te = model.predict_proba(X[te], images=im[te])[:, 1]
    print(
        f"cnn {params}: {a} training events, fit {seconds:.0f} s; train AUC "
        f"{roc_auc_score(y[tr], p_tr):.3f}, test AUC {roc_auc_score(y[te], p_te):.3f} "
        f"(reference {ref_auc:.3f}), test accuracy {np.mean((p_te > 0.5) == y[te]):.3f}, "
        f"mean score {p_te.mean():.3f}, scores above 0.5: {np.mean(p_te > 0.5):.2f}"
    )


if __name__ == "__main__":
    main()
