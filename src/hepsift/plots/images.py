"""The mean event image per class: one row per class, one column per channel (eta vs phi)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.errors import DataError

__all__ = ["mean_images", "plot_mean_images"]

_CHUNK = 2048


def mean_images(
    images: ArrayLike, y: ArrayLike, n_classes: int, *, weight: ArrayLike | None = None
) -> np.ndarray:
    """(n_classes, C, H, W) float64 weighted mean image of each class (zeros for an empty
    class), accumulated in float64 over chunks (float16 images are not copied whole)."""
    img = np.asarray(images)
    yy = np.asarray(y).astype(np.int64)
    if img.ndim != 4 or len(img) != len(yy):
        raise DataError(f"images have shape {img.shape}; expected ({len(yy)}, C, H, W)")
    w = np.ones(len(yy)) if weight is None else np.asarray(weight, dtype=np.float64)
    total = np.zeros((n_classes, *img.shape[1:]))
    norm = np.zeros(n_classes)
    for start in range(0, len(yy), _CHUNK):
        part = img[start : start + _CHUNK].astype(np.float64)
        for c in range(n_classes):
            m = yy[start : start + _CHUNK] == c
            wc = w[start : start + _CHUNK][m]
            total[c] += np.tensordot(wc, part[m], axes=1)
            norm[c] += wc.sum()
    return total / np.where(norm != 0, norm, 1.0)[:, None, None, None]


def plot_mean_images(
    images: ArrayLike,
    y: ArrayLike,
    class_names: Sequence[str],
    *,
    weight: ArrayLike | None = None,
    channels: Sequence[str] = ("ECAL $E_T$", "HCAL $E_T$", "track $p_T$"),
    eta_max: float = 2.5,
    fig: Any = None,
) -> dict[str, Any]:
    """Draw the mean image of each class (rows) and channel (columns) on a shared log colour
    scale per channel; x = phi in (-pi, pi), y = eta in (-eta_max, eta_max). Returns
    ``{"figure", "axes", "images"}`` (the artists) and the means under ``"means"``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    k = len(class_names)
    means = mean_images(images, y, k, weight=weight)
    c = means.shape[1]
    names = list(channels)[:c] + [f"channel {i}" for i in range(len(channels), c)]
    if fig is None:
        fig = plt.figure(figsize=(3.2 * c, 2.8 * k), layout="constrained")
    axes = fig.subplots(k, c, squeeze=False)
    artists = []
    extent = (-np.pi, np.pi, -eta_max, eta_max)
    for j in range(c):
        positive = means[:, j][means[:, j] > 0]
        norm = None
        if positive.size:
            norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max())
        for i in range(k):
            ax = axes[i, j]
            data = np.where(means[i, j] > 0, means[i, j], np.nan) if norm else means[i, j]
            im = ax.imshow(data, origin="lower", extent=extent, aspect="auto", norm=norm)
            artists.append(im)
            ax.set_title(f"{class_names[i]}: {names[j]}", fontsize=9)
            ax.set_xlabel(r"$\phi$")
            ax.set_ylabel(r"$\eta$")
        fig.colorbar(artists[-1], ax=axes[:, j].tolist(), shrink=0.8, label="mean per event")
    return {"figure": fig, "axes": axes, "images": artists, "means": means}
