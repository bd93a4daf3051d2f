"""Benchmark: the ``cnn`` family's training and inference speed, and its default width / stem.

Every ratio is measured in the same run on the same machine, the same network and the same
images (float16 (n, 3, 50, 50), as the multijet-bsm generator writes them):

1. training throughput (images/s) through the one training loop
   (:func:`hepsift.train.torch_loop.train_module`) / a plain torch loop (shuffle, forward,
   weighted BCE, backward, AdamW step) -- target >= 0.8;
2. inference throughput of the saved-and-loaded model (``predict_proba``) and of its ONNX graph
   in ONNX Runtime / the bare torch forward of the same network in chunks of 256 -- target
   >= 0.9 for both;
3. the default width and stem against wider / full-resolution networks on a subset: seconds
   per epoch and test accuracy / AUC after the same epochs (``--data FOLDER`` with
   ``sphaleron`` / ``black-hole`` ``.images.npz`` files from ``hepsift generate multijet-bsm``;
   without it a synthetic toy whose accuracies are not physics).

    .venv/bin/python benchmarks/cnn.py --threads 1
    .venv/bin/python benchmarks/cnn.py --data .hepsift-cache/multijet-bsm-... --variants \
        16:downsample,32:downsample,16:full --subset 3000 --epochs 8

Timings alternate the two sides and keep the median of ``--repeats``, so that the load of a
shared machine falls on both.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def toy_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (n, 3, 50, 50) float16 images: sparse deposits, the signal with more of them
    in a band of eta (development only: not physics)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    img = rng.exponential(5.0, (n, 3, 50, 50)) * (rng.random((n, 3, 50, 50)) < 0.03)
    band = rng.random((n, 3, 10, 50)) < 0.02
    img[:, :, 20:30, :] += np.where(y[:, None, None, None] == 1, band * 20.0, 0.0)
    return img.astype(np.float16), y


def npz_images(folder: str, subset: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """black-hole (0) and sphaleron (1) images of a generated multijet-bsm folder."""
    from hepsift.prepare.images import read_images

    parts, labels = [], []
    for label, name in enumerate(("black-hole", "sphaleron")):
        images, _, _ = read_images(Path(folder) / f"{name}.images.npz")
        parts.append(images)
        labels.append(np.full(len(images), label))
    img, y = np.concatenate(parts), np.concatenate(labels)
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(y))[: min(subset, len(y))]
    return img[keep], y[keep]


def _net(width: int, stem: str, seed: int) -> Any:
    import torch

    from hepsift.models.resnet import ResNetImage

    torch.manual_seed(seed)
    return ResNetImage(3, 1, width=width, stem=stem)


def plain_loop(net: Any, img: Any, y: Any, epochs: int, batch: int, seed: int) -> float:
    """Seconds of a plain torch training loop: the reference of (1)."""
    import torch
    import torch.nn.functional as F

    X0 = torch.zeros(len(y), 0)
    yt = torch.from_numpy(y.astype(np.float32))
    w = torch.ones(len(y))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), batch):
            idx = perm[start : start + batch]
            out = net(img[idx], X0[idx])
            loss = (
                F.binary_cross_entropy_with_logits(out, yt[idx], reduction="none") * w[idx]
            ).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def one_loop(net: Any, img: Any, y: Any, epochs: int, batch: int, seed: int) -> float:
    """Seconds of :func:`train_module` on the same network and data."""
    from hepsift.train.torch_loop import train_module

    t0 = time.perf_counter()
    train_module(
        net,
        (img, np.zeros((len(y), 0), np.float32)),
        y,
        epochs=epochs,
        batch_size=batch,
        lr=1e-3,
        weight_decay=1e-4,
        patience=epochs + 1,
        seed=seed,
        progress=False,
    )
    return time.perf_counter() - t0


def training_ratio(img: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    timg = torch.from_numpy(img)
    loop_s, plain_s = [], []
    for r in range(args.repeats):
        plain_s.append(plain_loop(_net(16, "downsample", r), timg, y, args.train_epochs, 128, r))
        loop_s.append(one_loop(_net(16, "downsample", r), timg, y, args.train_epochs, 128, r))
    n = len(y) * args.train_epochs
    a, b = n / statistics.median(loop_s), n / statistics.median(plain_s)
    print(f"1) training, width 16 downsample stem, {len(y)} images x {args.train_epochs} epochs, "
          f"{args.threads} thread(s):")  # fmt: skip
    print(f"   one loop {a:8.1f} images/s   plain torch loop {b:8.1f} images/s   "
          f"ratio {a / b:.3f}  (target >= 0.8)")  # fmt: skip


def inference_ratio(img: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    import torch

    from hepsift import models
    from hepsift.export import onnx_session

    torch.set_num_threads(args.threads)
    X0 = np.zeros((len(y), 0))
    model = models.create("cnn", epochs=1, num_threads=args.threads).fit(X0, y, images=img)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = models.load(model.save(Path(tmp) / "cnn"))
        session = onnx_session(loaded.to_onnx(Path(tmp) / "cnn.onnx"), threads=args.threads)
        net = loaded.net_.eval()
        timg = torch.from_numpy(img)
        tx = torch.zeros(len(y), 0)
        f32 = img.astype(np.float32)
        x32 = np.zeros((len(y), 0), np.float32)

        def bare() -> None:
            with torch.inference_mode():
                for s in range(0, len(y), 256):
                    torch.sigmoid(net(timg[s : s + 256], tx[s : s + 256]))

        def saved() -> None:
            loaded.predict_proba(X0, images=img)

        def ort() -> None:
            for s in range(0, len(y), 256):
                session.run(None, {"X": x32[s : s + 256], "images": f32[s : s + 256]})

        times: dict[str, list[float]] = {"bare": [], "saved": [], "onnx": []}
        for _ in range(args.repeats):
            for name, fn in (("bare", bare), ("saved", saved), ("onnx", ort)):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    rate = {k: len(y) / statistics.median(v) for k, v in times.items()}
    print(f"2) inference on {len(y)} images, {args.threads} thread(s):")
    print(f"   bare torch forward {rate['bare']:8.1f} images/s")
    for k in ("saved", "onnx"):
        print(f"   {k:<18} {rate[k]:8.1f} images/s   ratio {rate[k] / rate['bare']:.3f}  "
              "(target >= 0.9)")  # fmt: skip


def variants(img: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    from hepsift import models
    from hepsift.metrics import auc

    n_test = len(y) // 4
    X0 = np.zeros((len(y), 0))
    print(f"3) width / stem on {len(y) - n_test} training and {n_test} test images, "
          f"{args.epochs} epochs, {args.threads} thread(s):")  # fmt: skip
    for item in args.variants.split(","):
        width, stem = item.split(":")
        model = models.create(
            "cnn",
            width=int(width),
            stem=stem,
            epochs=args.epochs,
            patience=args.epochs + 1,
            num_threads=args.threads,
            seed=args.seed,
        )
        t0 = time.perf_counter()
        model.fit(X0[n_test:], y[n_test:], images=img[n_test:])
        per_epoch = (time.perf_counter() - t0) / args.epochs
        p = model.predict_proba(X0[:n_test], images=img[:n_test])[:, 1]
        acc = float(np.mean((p > 0.5) == (y[:n_test] == 1)))
        err = np.sqrt(acc * (1 - acc) / n_test)
        print(f"   width {int(width):3d} stem {stem:<10} {per_epoch:7.1f} s/epoch "
              f"({(len(y) - n_test) / per_epoch:6.1f} images/s)   accuracy {acc:.3f} +- {err:.3f}"
              f"   AUC {auc(y[:n_test], p):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="generated multijet-bsm folder")
    parser.add_argument("--events", type=int, default=1024, help="images for (1) and (2)")
    parser.add_argument("--subset", type=int, default=2000, help="images for (3)")
    parser.add_argument("--train-epochs", type=int, default=2, help="epochs of the timed fits")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the (3) fits")
    parser.add_argument("--variants", default="16:downsample,32:downsample,16:full")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: 1,2,3")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    img, y = toy_images(args.events, args.seed)
    if "1" not in skip:
        training_ratio(img, y, args)
    if "2" not in skip:
        inference_ratio(img, y, args)
    if "3" not in skip:
        if args.data:
            img, y = npz_images(args.data, args.subset, args.seed)
            print(f"   (data: {args.data}, black-hole vs sphaleron)")
        else:
            img, y = toy_images(args.subset, args.seed + 1)
            print("   (data: synthetic toy, not physics)")
        variants(img, y, args)


if __name__ == "__main__":
    main()
