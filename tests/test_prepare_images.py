"""Event images beside the tables, joined to the Dataset by (sample, event number)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.dataset import Dataset
from hepsift.errors import DataError
from hepsift.generate.writer import write_images, write_parquet
from hepsift.prepare import build_dataset
from hepsift.prepare.images import attach_images, images_file, read_images


def _sample(folder: Path, name: str, evno: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A table ``name.parquet`` (eventNumber, x) and ``name.images.npz`` in shuffled order;
    returns the images by event number order of ``evno``."""
    images = rng.random((len(evno), 3, 50, 50)).astype(np.float16)
    write_parquet(folder / f"{name}.parquet", {"eventNumber": evno, "x": evno * 0.5})
    perm = rng.permutation(len(evno))
    write_images(folder / f"{name}.images.npz", images[perm], evno[perm])
    return images


def test_images_follow_their_events_through_the_selection(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    ev_a = np.arange(100, 130, dtype=np.int64)
    ev_b = np.arange(0, 20, dtype=np.int64) * 7
    img_a = _sample(tmp_path, "a", ev_a, rng)
    img_b = _sample(tmp_path, "b", ev_b, rng)
    specs: list[dict[str, Any]] = [
        {"name": "a", "files": [str(tmp_path / "a.parquet")], "label": "a", "kind": "data"},
        {"name": "b", "files": [str(tmp_path / "b.parquet")], "label": "b", "kind": "data"},
    ]
    selection = {"name": "some", "cuts": [{"name": "x", "cut": "x > 20"}]}
    ds, _ = build_dataset(specs, features=["x"], selection=selection, class_names=["a", "b"])
    assert 0 < len(ds) < 50  # the selection removed events: their images are dropped
    out = attach_images(ds, {s["name"]: s["files"] for s in specs})
    assert out.images is not None and out.images.dtype == np.float16
    assert out.images.shape == (len(ds), 3, 50, 50)
    for i in range(len(out)):
        ev, k = int(out.event_number[i]), int(out.sample[i])  # type: ignore[index]
        ref = img_a[ev - 100] if k == 0 else img_b[ev // 7]
        np.testing.assert_array_equal(out.images[i], ref)
    np.testing.assert_array_equal(out.X[:, 0], out.event_number * 0.5)  # type: ignore[operator]
    # splits carry the images along
    train, _ = out.split((0.5, 0.5), seed=1)
    assert train.images is not None and len(train.images) == len(train)


def test_layout_and_bad_files(tmp_path: Path, rng: np.random.Generator) -> None:
    assert images_file("d/black-hole.parquet") == Path("d/black-hole.images.npz")
    assert images_file("d/s.images.npz") == Path("d/s.images.npz")
    _sample(tmp_path, "a", np.arange(5, dtype=np.int64), rng)
    images, evno, channels = read_images(tmp_path / "a.images.npz")
    assert images.shape == (5, 3, 50, 50) and sorted(evno) == list(range(5))
    assert channels == ("ECAL_ET", "HCAL_ET", "track_pT")
    ds = Dataset(
        X=np.zeros((3, 1), dtype=np.float32),
        y=np.zeros(3, dtype=np.int64),
        weight=np.ones(3),
        feature_names=("x",),
        class_names=("a", "b"),
        event_number=np.array([0, 4, 9]),
        sample=np.zeros(3, dtype=np.int64),
        sample_names=("a",),
    )
    with pytest.raises(DataError, match=r"1 selected events have no image .*event number 9"):
        attach_images(ds, {"a": [tmp_path / "a.parquet"]})
    with pytest.raises(DataError, match="does not exist"):
        attach_images(ds, {"a": [tmp_path / "c.parquet"]})
    np.savez(tmp_path / "p.images.npz", images=np.zeros((2, 1, 2, 2)), event_number=[3, 3])
    with pytest.raises(DataError, match="event number 3 has more than one image"):
        attach_images(ds, {"a": [tmp_path / "p.parquet"]})
    (tmp_path / "bad.images.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        read_images(tmp_path / "bad.images.npz")
    np.savez(tmp_path / "o.images.npz", images=np.array([None, 1]), event_number=[1, 2])
    with pytest.raises(DataError, match="cannot read"):  # object arrays are never unpickled
        read_images(tmp_path / "o.images.npz")
