"""The ``set-kernel`` family: the pyramid-match kernel against a slow reference, invariances,
a learned set property, the N^2 refusal, files and ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import hepsift.models as models
from hepsift.errors import ConfigError, DataError
from hepsift.export import check_parity, onnx_session
from hepsift.models.setkernel import level_weights, pyramid_kernel

Objects = tuple[np.ndarray, np.ndarray]


def toy_sets(
    rng: np.random.Generator, n: int, slots: int = 6, fields: int = 6, classes: int = 2
) -> tuple[Objects, np.ndarray]:
    """Object sets (fields: a, b, c, one-hot type of 3) whose label is a set property: any present object
    with a > 0.8 and b < 0 (class 1); with 3 classes, class 2 when there are more than 4
    objects and no such object. Absent slots hold garbage."""
    values = rng.normal(size=(n, slots, fields)).astype(np.float32)
    kind = rng.integers(0, 3, size=(n, slots))
    values[..., 3:] = np.eye(3, dtype=np.float32)[kind][..., : fields - 3]
    count = rng.integers(0, slots + 1, size=n)
    mask = np.arange(slots)[None, :] < count[:, None]
    hit = ((values[..., 0] > 0.8) & (values[..., 1] < 0) & mask).any(axis=1)
    y: np.ndarray = np.asarray(hit, dtype=np.int64)
    if classes == 3:
        y[(count > 4) & ~hit] = 2
    values[~mask] = rng.normal(size=(int((~mask).sum()), fields)) * 1e3
    return (values, mask), y


def reference_kernel(
    a: Objects, b: Objects, lo: np.ndarray, hi: np.ndarray, levels: int
) -> np.ndarray:
    """Grauman & Darrell's pyramid match written out: explicit histograms per level, the
    intersection as a sum of minima, new matches weighted by 1/2^(distance to the finest)."""

    def hists(objs: Objects, j: int) -> list[dict[tuple[int, ...], int]]:
        out = []
        for vals, m in zip(*objs, strict=True):
            h: dict[tuple[int, ...], int] = {}
            for obj in vals[m]:
                z = np.clip((obj[:3] - lo) / (hi - lo), 0.0, 1.0)
                key = tuple(min(int(np.floor(zz * 2**j)), 2**j - 1) for zz in z)
                h[key] = h.get(key, 0) + 1
            out.append(h)
        return out

    inter = []
    for j in range(levels):
        ha, hb = hists(a, j), hists(b, j)
        inter.append(
            np.array(
                [[sum(min(x[k], y.get(k, 0)) for k in x) for y in hb] for x in ha], dtype=float
            )
        )
    kernel = np.zeros_like(inter[0])
    for j in range(levels):
        finer = inter[j + 1] if j + 1 < levels else 0.0
        kernel += 2.0 ** -(levels - 1 - j) * (inter[j] - finer)
    na = a[1].sum(axis=1).astype(float)
    nb = b[1].sum(axis=1).astype(float)
    norm = np.sqrt(np.outer(np.maximum(na, 1), np.maximum(nb, 1)))
    return kernel / norm


def test_level_weights_are_the_pyramid_match_weights() -> None:
    c = level_weights(4)
    assert c.sum() == pytest.approx(1.0)
    # c_j = w_j - w_{j-1}: new matches at level j weigh w_j = 2^-(L-1-j)
    w = np.cumsum(c)
    np.testing.assert_allclose(w, [1 / 8, 1 / 4, 1 / 2, 1.0])


def test_kernel_matches_the_reference_and_is_symmetric_psd(rng: np.random.Generator) -> None:
    objs, _ = toy_sets(rng, 40)
    values, mask = objs
    kernel = pyramid_kernel(objs, levels=3)
    present = values[mask][:, :3]
    ref = reference_kernel(objs, objs, present.min(axis=0), present.max(axis=0), 3)
    np.testing.assert_allclose(kernel, ref, atol=1e-12)
    np.testing.assert_array_equal(kernel, kernel.T)
    assert np.linalg.eigvalsh(kernel).min() > -1e-10
    nonempty = mask.any(axis=1)
    np.testing.assert_allclose(np.diag(kernel)[nonempty], 1.0)
    assert np.all(kernel[~nonempty] == 0.0)  # no objects: kernel 0 with everything
    assert np.all((kernel >= 0) & (kernel <= 1 + 1e-12))


def _fit(rng: np.random.Generator, n: int = 600, classes: int = 2, **params: Any) -> Any:
    (values, mask), y = toy_sets(rng, n, classes=classes)
    w = rng.uniform(0.5, 1.5, n)
    model = models.create("set-kernel", **params)
    return model.fit(np.zeros((n, 0)), y, sample_weight=w, objects=(values, mask))


def test_set_property_is_learned_and_invariant(rng: np.random.Generator) -> None:
    model = _fit(rng, 800, type_fields=(3, 4, 5))
    (values, mask), y = toy_sets(rng, 1500)
    X = np.zeros((1500, 0))
    proba = model.predict_proba(X, objects=(values, mask))
    assert roc_auc_score(y, proba[:, 1]) > 0.85
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the decision is the SVM's: kernel to the support sets times the dual coefficients
    head = np.arange(200)
    svm = model.kernel_to_support((values[head], mask[head])) @ model.dual_coef_
    np.testing.assert_allclose(
        model.decision_values((values[head], mask[head])), svm + model.intercept_, atol=1e-10
    )
    # permute the present objects of every event; write garbage (NaN too) into absent slots
    perm_v, perm_m = values.copy(), mask.copy()
    for i in range(len(y)):
        k = int(mask[i].sum())
        order = rng.permutation(k)
        perm_v[i, :k] = values[i, order]
    perm_v[~perm_m] = np.nan
    again = model.predict_proba(X, objects=(perm_v, perm_m))
    np.testing.assert_allclose(again, proba, atol=1e-12)
    # more slots, all absent: the same sets
    wide_v = np.concatenate([perm_v, np.full((1500, 3, 6), 7.0, np.float32)], axis=1)
    wide_m = np.concatenate([perm_m, np.zeros((1500, 3), bool)], axis=1)
    np.testing.assert_allclose(model.predict_proba(X, objects=(wide_v, wide_m)), proba, atol=1e-12)


def test_too_many_training_events_are_refused_in_one_line(rng: np.random.Generator) -> None:
    (values, mask), y = toy_sets(rng, 150)
    model = models.create("set-kernel", max_train_events=100)
    with pytest.raises(ConfigError) as info:
        model.fit(np.zeros((150, 0)), y, objects=(values, mask))
    message = str(info.value)
    assert "\n" not in message and "max_train_events=100" in message and "N^2" in message


@pytest.mark.parametrize(("classes", "type_fields"), [(2, ()), (3, (3, 4, 5))])
def test_save_load_and_onnx_parity(
    classes: int, type_fields: tuple[int, ...], rng: np.random.Generator, tmp_path: Path
) -> None:
    model = _fit(rng, 300, classes=classes, type_fields=type_fields, levels=3)
    (values, mask), _ = toy_sets(rng, 400)
    X = np.zeros((400, 0), dtype=np.float32)
    proba = model.predict_proba(X, objects=(values, mask))
    assert proba.shape == (400, classes)
    loaded = models.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(X, objects=(values, mask)), proba)
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["model.json", "setkernel.npz"]
    path = loaded.to_onnx(tmp_path / "m.onnx")
    session = onnx_session(path)
    assert [i.name for i in session.get_inputs()] == ["X", "values", "mask"]
    got = session.run(["probabilities"], {"X": X, "values": values, "mask": mask})[0]
    assert np.max(np.abs(got - proba)) <= 1e-5
    assert check_parity(loaded, path, X, objects=(values, mask)) <= 1e-5


def test_inputs_are_checked(rng: np.random.Generator) -> None:
    (values, mask), y = toy_sets(rng, 200)
    X = np.zeros((200, 0))
    make = lambda **p: models.create("set-kernel", **p)  # noqa: E731
    cases: list[tuple[type[Exception], Any]] = [
        (DataError, lambda: make().fit(X, y)),
        (DataError, lambda: make().fit(X, y, objects=(values[:10], mask[:10]))),
        (DataError, lambda: make().fit(X, y, objects=(values, mask.astype(int)))),
        (ConfigError, lambda: make(fields=(0, 9)).fit(X, y, objects=(values, mask))),
        (DataError, lambda: make().fit(X, y, np.zeros(200), objects=(values, mask))),
        (ConfigError, lambda: make().fit(X, y, objects=(values, mask), eval_set=(X, y))),
        (ConfigError, lambda: models.create("set-kernel", levels=0)),
    ]
    for kind, call in cases:
        with pytest.raises(kind) as info:
            call()
        assert "\n" not in str(info.value)
    bad = values.copy()
    bad[mask] = np.inf
    with pytest.raises(DataError, match="NaN or inf"):
        make().fit(X, y, objects=(bad, mask))
    model = make().fit(X, y, eval_set=None, objects=(values, mask))
    with pytest.raises(DataError, match="needs objects"):
        model.predict_proba(X)


def test_events_without_objects_get_the_bias_only(rng: np.random.Generator) -> None:
    model = _fit(rng, 300)
    values = np.zeros((3, 6, 6), np.float32)
    mask = np.zeros((3, 6), bool)
    proba = model.predict_proba(np.zeros((3, 0)), objects=(values, mask))
    assert np.all(np.isfinite(proba)) and np.ptp(proba, axis=0).max() == 0.0


def test_fold_and_seed_make_it_deterministic(rng: np.random.Generator) -> None:
    (values, mask), y = toy_sets(rng, 300)
    fits = [
        models.create("set-kernel", seed=s).fit(np.zeros((300, 0)), y, objects=(values, mask))
        for s in (1, 1)
    ]
    a, b = (f.predict_proba(np.zeros((300, 0)), objects=(values, mask)) for f in fits)
    np.testing.assert_array_equal(a, b)


def test_types_never_match_and_object_inputs_are_taken(rng: np.random.Generator) -> None:
    from hepsift.features.objects import ObjectInputs

    (values, mask), _ = toy_sets(rng, 30)
    values[..., 3:] = [1.0, 0.0, 0.0]  # photons only
    swapped = values.copy()
    swapped[..., 3:] = [0.0, 1.0, 0.0]  # the same objects as jets
    both = ObjectInputs(np.concatenate([values, swapped]), np.concatenate([mask, mask]))
    typed = pyramid_kernel(both, type_fields=(3, 4, 5), levels=3)
    plain = pyramid_kernel(both, levels=3)
    cross = typed[:30, 30:]
    assert np.all(np.diag(cross) == 0.0)
    np.testing.assert_allclose(np.diag(plain[:30, 30:])[mask.any(axis=1)], 1.0)


def test_a_tampered_saved_model_is_refused(rng: np.random.Generator, tmp_path: Path) -> None:
    import json

    from hepsift.errors import ModelError

    folder = _fit(rng, 200, type_fields=(3, 4, 5), levels=2).save(tmp_path / "m")
    meta_path = folder / "model.json"
    meta = json.loads(meta_path.read_text())
    for key, bad in (("fields", [0, 1, 99]), ("caps", [1]), ("type_fields", [3])):
        changed = json.loads(json.dumps(meta))
        changed["state"]["pyramid"][key] = bad
        meta_path.write_text(json.dumps(changed))
        with pytest.raises(ModelError) as info:
            models.load(folder)
        assert "\n" not in str(info.value)


def test_fields_by_name(rng: np.random.Generator) -> None:
    from hepsift.features.objects import ObjectInputs

    (values, mask), y = toy_sets(rng, 200)
    names = ("a", "b", "c", "is_photon", "is_jet", "is_lep")
    named = ObjectInputs(values, mask, names)
    X = np.zeros((200, 0))
    by_name = models.create("set-kernel", fields=("a", "b", "c"), type_fields=names[3:])
    by_index = models.create("set-kernel", type_fields=(3, 4, 5))
    a = by_name.fit(X, y, objects=named).predict_proba(X, objects=named)
    b = by_index.fit(X, y, objects=(values, mask)).predict_proba(X, objects=(values, mask))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="did you mean 'is_jet'"):
        models.create("set-kernel", type_fields=("is_jets",)).fit(X, y, objects=named)
    with pytest.raises(ConfigError, match="unnamed"):
        models.create("set-kernel", fields=("a",)).fit(X, y, objects=(values, mask))
