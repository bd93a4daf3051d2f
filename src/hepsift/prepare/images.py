"""Event images read from beside the tables and joined to a Dataset by event number.

The generator writes ``<sample>.images.npz`` next to each table ``<sample>.<ext>``
(:func:`hepsift.generate.writer.write_images`): ``images`` (n, C, H, W) float16 with axis -2 =
eta and axis -1 = phi, ``event_number`` (n,) and optionally ``channels`` (C,) names. The file
is read with ``np.load(allow_pickle=False)`` (never unpickled). :func:`attach_images` gives
every event of a Dataset its image by (sample, event number): the order of the rows does not
matter, every selected event must have exactly one image, and images without a selected event
(removed by the selection) are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import DataError

__all__ = ["IMAGES_SUFFIX", "attach_images", "images_file", "images_for_events", "read_images"]

IMAGES_SUFFIX = ".images.npz"
_MAX_SIDE = 4096


def images_file(table: str | Path) -> Path:
    """The images file beside a table: ``dir/sample.parquet`` -> ``dir/sample.images.npz``."""
    p = Path(table)
    return p.with_name(p.name.split(".")[0] + IMAGES_SUFFIX)


def read_images(path: str | Path) -> tuple[NDArray[Any], NDArray[np.int64], tuple[str, ...]]:
    """(images (n, C, H, W) as stored, event numbers (n,), channel names) of one file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"images file '{p}' does not exist (generate the sample with --images, or "
            "remove the image models from the config)"
        )
    try:
        with np.load(p, allow_pickle=False) as npz:
            if "images" not in npz.files or "event_number" not in npz.files:
                raise DataError(
                    f"images file '{p}' holds {sorted(npz.files)}; expected 'images' and "
                    "'event_number'"
                )
            images = npz["images"]
            evno = npz["event_number"]
            channels = npz["channels"] if "channels" in npz.files else np.array([])
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read images file '{p}': {str(exc)[:160]}") from None
    if images.dtype.kind != "f" or images.ndim != 4 or max(images.shape[1:]) > _MAX_SIDE:
        raise DataError(
            f"images file '{p}': 'images' is {images.dtype} {images.shape}; expected floats "
            "(n, C, H, W)"
        )
    if evno.ndim != 1 or len(evno) != len(images) or evno.dtype.kind not in "iu":
        raise DataError(
            f"images file '{p}': 'event_number' has shape {evno.shape} ({evno.dtype}) for "
            f"{len(images)} images; expected one integer per image"
        )
    return images, evno.astype(np.int64), tuple(str(c) for c in channels.ravel())


def images_for_events(
    files: Sequence[str | Path], event_number: NDArray[Any], *, sample: str = ""
) -> NDArray[Any]:
    """The images of ``event_number`` (in that order) from the images files of the tables
    ``files``; DataError when an event has no image or one event number has two."""
    paths = list(dict.fromkeys(images_file(f) for f in files))  # a listed images file too
    parts = [read_images(p) for p in paths]
    if not parts:
        raise DataError(f"sample '{sample}' has no files to find images beside")
    shapes = {p[0].shape[1:] for p in parts}
    if len(shapes) > 1:
        raise DataError(f"sample '{sample}': its images files hold images of shapes {shapes}")
    evno = np.concatenate([p[1] for p in parts])
    order = np.argsort(evno, kind="stable")
    sorted_ev = evno[order]
    if sorted_ev.size > 1 and np.any(sorted_ev[1:] == sorted_ev[:-1]):
        dup = int(sorted_ev[1:][sorted_ev[1:] == sorted_ev[:-1]][0])
        raise DataError(f"sample '{sample}': event number {dup} has more than one image")
    want = np.asarray(event_number, dtype=np.int64)
    pos = np.clip(np.searchsorted(sorted_ev, want), 0, max(sorted_ev.size - 1, 0))
    found = sorted_ev.size > 0 and sorted_ev[pos] == want
    if not np.all(found):
        missing = want[~np.asarray(found, dtype=bool)]
        raise DataError(
            f"sample '{sample}': {missing.size} selected events have no image (first event "
            f"number {int(missing[0])}); images files: {', '.join(str(p) for p in paths)}"
        )
    rows = order[pos]
    if len(parts) == 1:
        return np.asarray(parts[0][0][rows])
    return np.asarray(np.concatenate([p[0] for p in parts])[rows])


def attach_images(ds: Dataset, sample_files: Mapping[str, Sequence[str | Path]]) -> Dataset:
    """``ds`` with ``images`` (n, C, H, W): each event's image from its sample's images files
    (``sample_files``: sample name -> table files), matched by event number."""
    if ds.sample is None or ds.event_number is None or not ds.sample_names:
        raise DataError("images are joined by sample and event number; the data carry neither")
    out: NDArray[Any] | None = None
    for k, name in enumerate(ds.sample_names):
        rows = np.flatnonzero(ds.sample == k)
        if name not in sample_files:
            raise DataError(f"no table files are known for sample '{name}' to find its images")
        imgs = images_for_events(sample_files[name], ds.event_number[rows], sample=name)
        if out is None:
            out = np.zeros((len(ds), *imgs.shape[1:]), dtype=imgs.dtype)
        elif imgs.shape[1:] != out.shape[1:]:
            raise DataError(
                f"sample '{name}' has images of shape {imgs.shape[1:]}; the others {out.shape[1:]}"
            )
        out[rows] = imgs
    return replace(ds, images=out)
