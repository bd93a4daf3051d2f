"""The deepsets family: invariances, masks, the set-property toy, files, ONNX, bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from hepsift import models
from hepsift.errors import ConfigError, DataError, ModelError
from hepsift.export import check_parity, export_onnx, onnx_outputs, onnx_session
from hepsift.metrics import auc_ovr

FAST: dict[str, Any] = {"phi": (16, 16), "rho": (16,), "epochs": 2, "num_threads": 1}
POOLINGS = ["sum", "mean", "max", "attention"]


def _sets(
    rng: np.random.Generator, n: int, slots: int = 8, fields: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, mask, y): y = 1 when any present object has a > 1.5... (here a > 1, b < 0)."""
    values = rng.normal(size=(n, slots, fields)).astype(np.float32)
    count = rng.integers(0, slots + 1, n)
    mask = np.arange(slots)[None, :] < count[:, None]
    y = np.asarray(((values[..., 0] > 1.0) & (values[..., 1] < 0.0) & mask).any(axis=1), np.int64)
    return values, mask, y


def _shuffle_present(
    rng: np.random.Generator, values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each event's slots in a random order (present objects and masks move together)."""
    order = np.argsort(rng.random(mask.shape), axis=1)
    return (
        np.take_along_axis(values, order[..., None], axis=1),
        np.take_along_axis(mask, order, axis=1),
    )


@pytest.mark.parametrize("pooling", POOLINGS)
def test_permutations_and_masked_garbage_change_nothing(
    pooling: str, rng: np.random.Generator
) -> None:
    values, mask, y = _sets(rng, 400)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    model = models.create("deepsets", pooling=pooling, **FAST).fit(X, y, objects=(values, mask))
    ref = model.predict_proba(X, objects=(values, mask))
    v2, m2 = _shuffle_present(rng, values, mask)
    np.testing.assert_allclose(model.predict_proba(X, objects=(v2, m2)), ref, atol=1e-5)
    garbage = values.copy()
    garbage[~mask] = rng.normal(0, 1e4, size=garbage[~mask].shape)
    garbage[~mask][::3] = np.nan
    np.testing.assert_allclose(model.predict_proba(X, objects=(garbage, mask)), ref, atol=1e-5)
    # more (absent) slots than in training: a set model takes any number of slots
    wide = np.concatenate([values, np.full((400, 3, 3), 7.0, np.float32)], axis=1)
    wmask = np.concatenate([mask, np.zeros((400, 3), bool)], axis=1)
    np.testing.assert_allclose(model.predict_proba(X, objects=(wide, wmask)), ref, atol=1e-5)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_events_without_objects(pooling: str, rng: np.random.Generator) -> None:
    values, mask, y = _sets(rng, 300)
    mask[:50] = False  # no object at all
    X = np.zeros((300, 0), dtype=np.float32)  # a pure set model
    model = models.create("deepsets", pooling=pooling, **FAST).fit(X, y, objects=(values, mask))
    p = model.predict_proba(X, objects=(values, mask))
    assert p.shape == (300, 2) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p[:50], np.broadcast_to(p[0], (50, 2)), atol=1e-6)


@pytest.mark.slow
def test_set_property_is_learned_where_a_padded_mlp_is_not(rng: np.random.Generator) -> None:
    """y = any object with a > 1 and b < 0: DeepSets (AUC > 0.9) beats an MLP fed the padded
    slots in a random order (the same events, the same epochs)."""
    values, mask, y = _sets(rng, 5000)
    values, mask = _shuffle_present(rng, values, mask)
    tr, te = slice(0, 4000), slice(4000, None)
    X = np.zeros((5000, 0), dtype=np.float32)
    ds = models.create(
        "deepsets", pooling="attention", phi=(32, 32), rho=(32,), epochs=8, batch_size=128,
        num_threads=1,
    )  # fmt: skip
    ds.fit(X[tr], y[tr], objects=(values[tr], mask[tr]))
    auc_ds = auc_ovr(y[te], ds.predict_proba(X[te], objects=(values[te], mask[te])))
    flat = np.concatenate([(values * mask[..., None]).reshape(5000, -1), mask], axis=1)
    mlp = models.create("mlp", hidden=(64, 64), epochs=8, batch_size=128, num_threads=1)
    mlp.fit(flat[tr], y[tr])
    auc_mlp = auc_ovr(y[te], mlp.predict_proba(flat[te]))
    assert auc_ds > 0.9
    assert auc_ds - auc_mlp > 0.05, (auc_ds, auc_mlp)


@pytest.mark.parametrize(("k", "d"), [(2, 0), (3, 2)])
def test_save_load_and_onnx_parity(
    k: int, d: int, rng: np.random.Generator, tmp_path: Path
) -> None:
    values, mask, y = _sets(rng, 500)
    if k == 3:
        y = y + (values[:, 0, 2] > 0.5)
    X = rng.normal(50.0, 20.0, size=(500, d)).astype(np.float32)
    model = models.create("deepsets", pooling="attention", **FAST).fit(X, y, objects=(values, mask))
    loaded = models.load(model.save(tmp_path / "ds"))
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == [
        "model.json",
        "weights.safetensors",
    ]
    ref = model.predict_proba(X, objects=(values, mask))
    np.testing.assert_array_equal(loaded.predict_proba(X, objects=(values, mask)), ref)
    path = export_onnx(loaded, tmp_path / "ds.onnx")
    assert check_parity(model, path, X, objects=(values, mask)) <= 1e-5
    session = onnx_session(path)
    assert [i.name for i in session.get_inputs()] == ["X", "values", "mask"]
    # the slot axis is dynamic in the graph too
    more = np.concatenate([values, values[:, :2]], axis=1)
    mmore = np.concatenate([mask, np.zeros((500, 2), bool)], axis=1)
    out = onnx_outputs(session, X, values=more, mask=mmore)["probabilities"]
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_event_features_off_ignores_X(rng: np.random.Generator, tmp_path: Path) -> None:
    values, mask, y = _sets(rng, 300)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    model = models.create("deepsets", event_features=False, **FAST)
    model.fit(X, y, objects=(values, mask))
    ref = model.predict_proba(X, objects=(values, mask))
    other = rng.normal(size=(300, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_proba(other, objects=(values, mask)), ref)
    path = export_onnx(models.load(model.save(tmp_path / "m")), tmp_path / "m.onnx")
    assert check_parity(model, path, other, objects=(values, mask)) <= 1e-5


def test_weights_early_stopping_and_determinism(rng: np.random.Generator) -> None:
    values, mask, y = _sets(rng, 600)
    X = rng.normal(size=(600, 1)).astype(np.float32)
    w = rng.normal(1.0, 1.0, 600)  # MC weights, some negative
    params = {**FAST, "epochs": 30, "patience": 1, "lr": 0.05}
    kw = {"objects": (values[:400], mask[:400])}
    valid = {"eval_set": (X[400:], y[400:]), "eval_objects": (values[400:], mask[400:])}
    a = models.create("deepsets", negative_weights="abs", class_weight="balanced", **params)
    a.fit(X[:400], y[:400], sample_weight=w[:400], **kw, **valid)
    assert a.history_.epochs < 30 and a.history_.stopped_early
    b = models.create("deepsets", negative_weights="abs", class_weight="balanced", **params)
    b.fit(X[:400], y[:400], sample_weight=w[:400], **kw, **valid)
    np.testing.assert_array_equal(
        a.predict_proba(X, objects=(values, mask)), b.predict_proba(X, objects=(values, mask))
    )
    c = models.create("deepsets", validation_fraction=0.25, **params)
    c.fit(X, y, sample_weight=np.abs(w), objects=(values, mask))
    assert c.history_.val_loss and c.history_.n_train == 450


def test_object_scaler_sees_present_objects_only(rng: np.random.Generator) -> None:
    values, mask, y = _sets(rng, 300)
    values[..., 2] = values[..., 2] * 5.0 + 100.0
    garbage = values.copy()
    garbage[~mask] = 1e6
    X = np.zeros((300, 0), dtype=np.float32)
    m = models.create("deepsets", **FAST).fit(X, y, objects=(garbage, mask))
    assert m.object_scaler_.mean_[2] == pytest.approx(values[mask][:, 2].mean(), rel=1e-4)


def test_bad_inputs_are_one_line_errors(rng: np.random.Generator) -> None:
    values, mask, y = _sets(rng, 100)
    X = np.zeros((100, 1), dtype=np.float32)
    with pytest.raises(ModelError, match=r"needs objects=\(values, mask\)"):
        models.create("deepsets", **FAST).fit(X, y)
    with pytest.raises(DataError, match="objects hold 99 events"):
        models.create("deepsets", **FAST).fit(X, y, objects=(values[:99], mask[:99]))
    bad = values.copy()
    bad[mask] = np.nan
    with pytest.raises(DataError, match="present objects hold NaN"):
        models.create("deepsets", **FAST).fit(X, y, objects=(bad, mask))
    with pytest.raises(ConfigError, match=r"pooling='summ'.*did you mean 'sum'"):
        models.create("deepsets", pooling="summ")
    with pytest.raises(ConfigError, match="phi"):
        models.create("deepsets", phi=())
    model = models.create("deepsets", **FAST).fit(X, y, objects=(values, mask))
    with pytest.raises(DataError, match="trained on 3"):
        model.predict_proba(X, objects=(values[..., :2], mask))
    with pytest.raises(ModelError, match="needs objects"):
        model.predict_proba(X)
    with pytest.raises(ModelError, match="eval_objects"):
        models.create("deepsets", **FAST).fit(X, y, objects=(values, mask), eval_set=(X, y))


def _three_sample_dataset(rng: np.random.Generator, n: int = 900) -> Any:
    from hepsift.dataset import Dataset
    from hepsift.features.objects import ObjectInputs

    values, mask, _ = _sets(rng, n, slots=5, fields=3)
    sample = rng.integers(0, 3, n)
    values[..., 0] += 0.8 * sample[:, None]  # the class shifts a field of every object
    X = np.column_stack([mask.sum(axis=1), rng.normal(size=n)]).astype(np.float32)
    return Dataset(
        X=X,
        y=np.zeros(n, dtype=np.int64),
        weight=rng.uniform(0.5, 1.5, n) * np.array([1.0, 0.1, 0.02])[sample],
        feature_names=("n_obj", "noise"),
        class_names=("all",),
        sample=sample,
        sample_names=("a", "b", "c"),
        objects=ObjectInputs(values, mask, ("log_pt", "eta_rel", "dphi")),
    )


def _run_config(models_: list[dict[str, Any]], objects: bool = True) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": "sets",
        "seed": 5,
        "data": {"inline": {"feature_names": ["n_obj", "noise"], "X": [[0, 0]], "y": [0]}},
        "features": ["n_obj", "noise"],
        "task": {"type": "multiclass", "classes": {"A": ["a"], "B": ["b"], "C": ["c"]}},
        "models": models_,
        "evaluation": {"bootstrap": 8, "importance": True},
        "output": {"formats": ["png"], "onnx": True},
    }
    if objects:
        cfg["objects"] = {"collections": {"jet": 5}}
    return cfg


def test_run_passes_objects_and_reports_per_class_intervals(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    import json

    from hepsift.prepare import PreparedData
    from hepsift.run import run

    ds = _three_sample_dataset(rng)
    specs = [
        {"name": "ds", "family": "deepsets", "params": {**FAST, "epochs": 3}},
        {"name": "mlp", "family": "mlp", "params": {"hidden": [8], "epochs": 2, "num_threads": 1}},
    ]
    prepared = PreparedData(dataset=ds, source="test")
    result = run(_run_config(specs), out=tmp_path, prepared=prepared)
    doc = json.loads((result.path / "metrics.json").read_text())
    for name in ("ds", "mlp"):
        entry = doc["models"][name] if "models" in doc else doc[name]
        ci = entry["auc_per_class_ci68"]
        assert set(ci) == {"A", "B", "C"}
        for c, (low, high) in ci.items():
            assert low <= entry["auc_per_class"][c] + 1e-9 and high >= low
        fractions = np.asarray(entry["confusion_matrix"]["yield_fractions"])
        np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-9)
    (ev,) = [e for e in result.evaluations if e.name == "ds"]
    assert ev.importance is None  # permuting X alone says nothing about a set model
    model = models.load(result.path / "models" / "ds")
    _tr, _va, test = prepared.dataset.split(
        result.config.split.fractions, by=result.config.split.by, seed=result.config.seed
    )
    assert model.family == "deepsets"
    # the saved model and its ONNX graph reproduce the run's test scores from raw inputs
    np.testing.assert_allclose(
        model.predict_proba(test.X, objects=test.objects), ev.proba_test, atol=1e-6
    )
    onnx = result.path / "models" / "ds.onnx"
    assert check_parity(model, onnx, test.X, objects=test.objects) <= 1e-5
    html = (result.path / "report.html").read_text()
    assert "rows normalised to expected yields" in html and "[68 % interval]" in html


def test_run_refuses_a_set_model_without_objects_section(tmp_path: Path) -> None:
    from hepsift.run import run

    cfg = _run_config([{"name": "ds", "family": "deepsets", "params": FAST}], objects=False)
    with pytest.raises(ConfigError, match=r"add an 'objects:' section"):
        run(cfg, out=tmp_path)
    assert not any(tmp_path.iterdir())
