"""Every family through the Classifier contract: fit, predict, save/load, ONNX, bad inputs."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import hepsift.models as models
from hepsift.errors import ConfigError, DataError, HepsiftError, ModelError
from hepsift.export import check_parity, export_onnx, onnx_probabilities, onnx_session

FAST: dict[str, dict[str, Any]] = {
    "tree": {"max_depth": 5},
    "forest": {"n_estimators": 20, "max_depth": 6},
    "bdt": {"n_estimators": 40, "max_depth": 3, "n_jobs": 1},
    "mlp": {"hidden": (16, 16), "epochs": 8, "batch_size": 128, "num_threads": 1},
    "easy-ensemble": {
        "base": "bdt",
        "base_params": {"n_estimators": 15, "max_depth": 2},
        "n_subsets": 3,
    },
    "undersample": {"base": "tree", "base_params": {"max_depth": 4}},
    "bagging": {"base": "tree", "base_params": {"max_depth": 4}, "n_subsets": 3},
}
ONNX = ("tree", "forest", "bdt", "mlp")


def binary(rng: np.random.Generator, n: int = 1500, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 1] *= 50.0  # a feature in GeV-like units: scaling must handle it
    logit = 1.5 * X[:, 0] - X[:, 1] / 50.0 + X[:, 2] * X[:, 3]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return X, y


def multiclass(
    rng: np.random.Generator, n: int = 1500, k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.normal(scale=2.0, size=(k, 4))
    y = rng.integers(0, k, n)
    X = (centers[y] + rng.normal(size=(n, 4))).astype(np.float32)
    return X, y


@pytest.mark.parametrize("name", list(FAST))
def test_contract_binary_round_trip(name: str, rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = binary(rng)
    labels = np.array(["bkg", "sig"])[y]  # string labels go through the label encoding
    model = models.create(name, **FAST[name])
    assert clone(model).get_params() == model.get_params()
    assert model.fit(X[:1000], labels[:1000]) is model
    proba = model.predict_proba(X[1000:])
    assert proba.shape == (500, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X[1000:])) <= {"bkg", "sig"}
    assert roc_auc_score(y[1000:], proba[:, 1]) > 0.75
    loaded = models.load(model.save(tmp_path / name))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params()["seed"] == model.get_params()["seed"]


@pytest.mark.parametrize("name", list(FAST))
def test_contract_multiclass(name: str, rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = multiclass(rng)
    model = models.create(name, **FAST[name]).fit(X[:1000], y[:1000])
    proba = model.predict_proba(X[1000:])
    assert proba.shape == (500, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(X[1000:]) == y[1000:]) > 0.6
    loaded = models.load(model.save(tmp_path / name))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("name", ONNX)
@pytest.mark.parametrize("k", [2, 3])
def test_onnx_parity(name: str, k: int, rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = binary(rng, 2000) if k == 2 else multiclass(rng, 2000)
    model = models.create(name, **FAST[name]).fit(X[:1000], y[:1000])
    loaded = models.load(model.save(tmp_path / "m"))
    path = loaded.to_onnx(tmp_path / "m.onnx")
    assert check_parity(model, path, X[1000:]) <= 1e-5
    got = onnx_probabilities(onnx_session(path), X[1000:])
    assert got.shape == (1000, k)


def test_onnx_of_an_unfitted_model_is_refused(tmp_path: Path) -> None:
    model = models.create("undersample", **FAST["undersample"])
    with pytest.raises(ModelError, match="not fitted"):
        export_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_parity_failure_is_reported(rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = binary(rng, 600)
    a = models.create("bdt", **FAST["bdt"]).fit(X, y)
    b = models.create("bdt", n_estimators=5, max_depth=2).fit(X, y)
    path = b.to_onnx(tmp_path / "b.onnx")
    with pytest.raises(ModelError, match="parity"):
        check_parity(a, path, X)


@pytest.mark.parametrize("name", ["tree", "forest", "bdt", "mlp", "easy-ensemble"])
def test_weights_change_the_fit(name: str, rng: np.random.Generator) -> None:
    X, y = binary(rng, 1200)
    w = np.where(y == 1, 8.0, 1.0)
    plain = models.create(name, **FAST[name]).fit(X, y)
    weighted = models.create(name, **FAST[name]).fit(X, y, sample_weight=w)
    mean_plain = plain.predict_proba(X)[:, 1].mean()
    mean_weighted = weighted.predict_proba(X)[:, 1].mean()
    if name == "easy-ensemble":
        # subsets are re-balanced per class, so the class-constant weight cancels exactly...
        np.testing.assert_allclose(mean_weighted, mean_plain, rtol=1e-6)
        # ...while weights that differ inside a class do change the fit
        w2 = np.where(X[:, 0] > 0, 10.0, 1.0)
        other = models.create(name, **FAST[name]).fit(X, y, sample_weight=w2)
        assert not np.allclose(other.predict_proba(X), plain.predict_proba(X))
    else:
        assert mean_weighted > mean_plain + 0.1  # signal up-weighted -> higher scores


def test_class_weight_balanced_equals_explicit_weights(rng: np.random.Generator) -> None:
    X, y = binary(rng, 800)
    y[:600] = 0  # imbalanced
    n0, n1 = np.sum(y == 0), np.sum(y == 1)
    w = np.where(y == 0, len(y) / (2 * n0), len(y) / (2 * n1))
    a = models.create("bdt", n_estimators=20, class_weight="balanced").fit(X, y)
    b = models.create("bdt", n_estimators=20).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5)
    c = models.create("bdt", n_estimators=20, class_weight={1: n0 / n1}).fit(X, y)
    d = models.create("bdt", n_estimators=20, scale_pos_weight=n0 / n1).fit(X, y)
    plain = models.create("bdt", n_estimators=20).fit(X, y)
    # XGBoost's scale_pos_weight and the class weight both lift the rare class's scores
    for m in (c, d):
        assert m.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.1


def test_bdt_early_stopping_and_importance(rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = binary(rng, 3000)
    model = models.create("bdt", n_estimators=500, learning_rate=0.3, early_stopping_rounds=10)
    model.fit(X[:2000], y[:2000], eval_set=(X[2000:], y[2000:]))
    assert model.booster_.num_boosted_rounds() == model.best_iteration_ + 1 < 500
    val = model.evals_result_["validation"]["logloss"]
    assert int(np.argmin(val)) == model.best_iteration_
    imp = model.feature_importances_
    assert imp.shape == (6,) and imp.sum() == pytest.approx(1.0)
    assert np.argsort(imp)[-1] in (0, 2, 3)  # informative features, not pure noise 4, 5
    assert imp[4] < imp[0] and imp[5] < imp[0]


@pytest.mark.slow
def test_mlp_is_deterministic_and_uses_eval_set(rng: np.random.Generator) -> None:
    X, y = binary(rng, 1200)
    hp = {
        "hidden": (8,),
        "epochs": 30,
        "patience": 2,
        "dropout": 0.2,
        "batch_norm": True,
        "num_threads": 1,
    }
    a = models.create("mlp", **hp).fit(X[:800], y[:800], eval_set=(X[800:], y[800:]))
    b = models.create("mlp", **hp).fit(X[:800], y[:800], eval_set=(X[800:], y[800:]))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    h = a.history_
    assert h.best_epoch == int(np.argmin(h.val_loss))
    c = models.create("mlp", **{**hp, "seed": 1}).fit(X[:800], y[:800])
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    s = models.create(
        "mlp",
        hidden=(8, 8, 8),
        activation="silu",
        epochs=3,
        scaling="robust",
        clip_quantile=0.01,
        validation_fraction=0.2,
    ).fit(X, y)
    assert s.history_.epochs == 3 and np.isfinite(s.history_.val_loss).all()


@pytest.mark.slow
def test_imbalanced_five_classes(rng: np.random.Generator) -> None:
    """Production-mode-like: one class dominates, one is rare; imbalance handling lifts recall."""
    k, d = 5, 4
    counts = [4000, 400, 200, 150, 40]
    centers = np.array(
        [[0, 0, 0, 0], [1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 1.5]]
    )
    y = np.concatenate([np.full(c, i) for i, c in enumerate(counts)])
    X = (centers[y] + rng.normal(size=(y.size, d))).astype(np.float32)
    yt = np.concatenate([np.full(300, i) for i in range(k)])
    Xt = (centers[yt] + rng.normal(size=(yt.size, d))).astype(np.float32)

    def recall_of_rare(model: Any) -> float:
        return float(np.mean(model.predict(Xt[yt == 4]) == 4))

    def balanced_accuracy(model: Any) -> float:
        p = model.predict(Xt)
        return float(np.mean([np.mean(p[yt == c] == c) for c in range(k)]))

    bdt = {"n_estimators": 60, "max_depth": 3, "n_jobs": 1}
    plain = models.create("bdt", **bdt).fit(X, y)
    balanced = models.create("bdt", class_weight="balanced", **bdt).fit(X, y)
    easy = models.create("easy-ensemble", base="bdt", base_params=bdt, n_subsets=4).fit(X, y)
    under = models.create("undersample", base="bdt", base_params=bdt).fit(X, y)
    for model in (balanced, easy, under):
        assert recall_of_rare(model) > recall_of_rare(plain) + 0.2
        assert balanced_accuracy(model) > balanced_accuracy(plain)
    assert easy.predict_proba(Xt).shape == (yt.size, k)
    assert len(easy.models_) == 4
    mlp = models.create("mlp", hidden=(32,), epochs=15, class_weight="balanced", num_threads=1)
    mlp.fit(X, y)
    assert recall_of_rare(mlp) > recall_of_rare(plain)


def test_ensemble_subsets_are_balanced(rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = multiclass(rng, 900)
    y[:600] = 0
    e = models.create("easy-ensemble", **FAST["easy-ensemble"]).fit(X, y)
    subs = e._subsets(np.searchsorted(e.classes_, y), np.random.default_rng(0))
    for idx in subs:
        counts = np.bincount(y[idx], minlength=3)
        assert counts[0] == counts[1] == counts[2] == np.bincount(y).min()
        assert np.unique(idx).size == idx.size  # without replacement
    loaded = models.load(e.save(tmp_path / "e"))
    assert sorted(p.name for p in (tmp_path / "e").iterdir() if p.is_dir()) == [
        "base_000",
        "base_001",
        "base_002",
    ]
    assert loaded.base_params == e.base_params
    np.testing.assert_array_equal(loaded.predict_proba(X), e.predict_proba(X))


@pytest.mark.parametrize("name", ["tree", "bdt", "mlp"])
def test_bad_inputs(name: str, rng: np.random.Generator) -> None:
    X, y = binary(rng, 200)
    model = models.create(name, **FAST[name])
    Xn = X.copy()
    Xn[5, 2] = np.nan
    if name == "bdt":  # XGBoost takes NaN as a missing value (tested in test_bdt_missing_values)
        model.fit(Xn, y)
    else:  # issue 12: one line naming the column and the remedies
        with pytest.raises(DataError, match=r"X columns \[2\] contain NaN.*impute.*'bdt'"):
            model.fit(Xn, y)
    Xi = X.copy()
    Xi[5, 2] = np.inf
    with pytest.raises(DataError, match=r"X columns \[2\] contain \+-infinity"):
        model.fit(Xi, y)
    with pytest.raises(DataError, match="one class"):
        model.fit(X, np.zeros(200))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:150])
    w = np.where(y == 1, -1.0, 1.0)  # every signal weight negative
    with pytest.raises(DataError, match="negative_weights='drop'"):
        models.create(name, negative_weights="drop", **FAST[name]).fit(X, y, sample_weight=w)
    with pytest.raises(ConfigError, match="did you mean 'drop'"):
        models.create(name, negative_weights="dorp", **FAST[name]).fit(X, y)
    model.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:, :4])


def test_xgboost_negative_weights_need_a_policy(rng: np.random.Generator) -> None:
    X, y = binary(rng, 300)
    w = rng.normal(1.0, 1.0, 300)
    with pytest.raises(ModelError, match="negative_weights='abs'"):
        models.create("bdt", n_estimators=5).fit(X, y, sample_weight=w)
    models.create("bdt", n_estimators=5, negative_weights="abs").fit(X, y, sample_weight=w)
    # trees and the MLP accept signed weights as they are
    models.create("tree").fit(X, y, sample_weight=w)


def test_registry_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'forest'"):
        models.create("forrest")
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        models.create("mlp", hiden=(3,))
    with pytest.raises(ConfigError, match="did you mean 'bdt'"):
        models.create("easy-ensemble", base="bdtt").fit(np.zeros((4, 2)), [0, 1, 0, 1])


class _Boom:
    """Unpickling this would create a sentinel file: loading must never get that far."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.sentinel,))


@pytest.mark.parametrize(
    ("name", "payload"),
    [("tree", "trees.npz"), ("bdt", "booster.json"), ("mlp", "weights.safetensors")],
)
def test_tampered_payload_is_refused(
    name: str, payload: str, rng: np.random.Generator, tmp_path: Path
) -> None:
    X, y = binary(rng, 300)
    path = models.create(name, **FAST[name]).fit(X, y).save(tmp_path / name)
    sentinel = tmp_path / "unpickled"
    (path / payload).write_bytes(pickle.dumps(_Boom(sentinel)))
    with pytest.raises(HepsiftError):
        models.load(path)
    assert not sentinel.exists()


def test_tampered_npz_with_object_array_is_refused(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    X, y = binary(rng, 300)
    path = models.create("tree", max_depth=2).fit(X, y).save(tmp_path / "t")
    sentinel = tmp_path / "unpickled"
    np.savez(path / "trees.npz", t0_left_child=np.array([_Boom(sentinel)], dtype=object))
    with pytest.raises(ModelError):
        models.load(path)
    assert not sentinel.exists()


def test_save_is_atomic_and_replaces(rng: np.random.Generator, tmp_path: Path) -> None:
    X, y = binary(rng, 300)
    a = models.create("bdt", n_estimators=5).fit(X, y)
    b = models.create("bdt", n_estimators=9).fit(X, y)
    a.save(tmp_path / "m")
    b.save(tmp_path / "m")
    assert models.load(tmp_path / "m").booster_.num_boosted_rounds() == 9
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary leftovers


@pytest.mark.parametrize("name", ["tree", "bdt", "mlp"])
def test_class_weight_dict_survives_save(
    name: str, rng: np.random.Generator, tmp_path: Path
) -> None:
    X, y = binary(rng, 400)
    model = models.create(name, class_weight={1: 3.0}, **FAST[name]).fit(X, y)
    loaded = models.load(model.save(tmp_path / name))
    assert loaded.get_params()["class_weight"] == {"1": 3.0}
    refit = clone(loaded).fit(X, y)  # string keys name the same class
    np.testing.assert_allclose(refit.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_ensemble_passes_eval_set_to_base_models(rng: np.random.Generator) -> None:
    X, y = binary(rng, 1500)
    labels = np.array(["bkg", "sig"])[y]
    hp = {"n_estimators": 300, "learning_rate": 0.5, "early_stopping_rounds": 3, "n_jobs": 1}
    e = models.create("easy-ensemble", base="bdt", base_params=hp, n_subsets=2)
    e.fit(X[:1000], labels[:1000], eval_set=(X[1000:], labels[1000:]))
    assert all(m.booster_.num_boosted_rounds() < 300 for m in e.models_)  # stopped early
    with pytest.raises(DataError, match="not seen"):
        e.fit(X[:1000], labels[:1000], eval_set=(X[1000:], y[1000:]))


# -- capabilities on the contract (issue 10, item 7) ------------------------------------------
CAPABILITY_FAST: dict[str, dict[str, Any]] = {
    **FAST,
    "logistic": {},
    "scaled": {"estimator": "tree"},
    "pnn": {"hidden": (8,), "epochs": 2, "num_threads": 1},
    "deepsets": {"phi": (8,), "rho": (8,), "epochs": 2, "num_threads": 1},
    "set-kernel": {"fields": (0,), "levels": 2},
    "cnn": {"width": 2, "blocks": (1,), "head": 4, "epochs": 2, "num_threads": 1},
    "bdt-regressor": {"n_estimators": 5},
    "mlp-regressor": {"hidden": (8,), "epochs": 2, "num_threads": 1},
}


def _images(X: np.ndarray) -> np.ndarray:
    """Toy event images (n, 1, 3, 4) for the image families, built from the features."""
    return np.repeat(X[:, :1, None, None], 12, axis=2).reshape(-1, 1, 3, 4).astype(np.float16)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_capabilities_say_what_fit_accepts(name: str, rng: np.random.Generator) -> None:
    """``supports_eval_set``, ``reports_epochs`` and ``inputs`` are what ``fit`` does."""
    cls = models.model_class(name)
    assert cls.inputs <= {"table", "param", "objects", "images"} and "table" in cls.inputs
    assert cls.parametric == ("param" in cls.inputs)
    for attr in (cls.seed_param, cls.progress_param):
        assert attr is None or attr in models.hyperparameters(name)
    X, y = binary(rng, 400)
    target: Any = X[:, 0] if name.endswith("-regressor") else y
    extra: dict[str, Any] = {}
    if cls.parametric:
        extra = {"param": np.where(y == 1, 500.0, np.nan)}
    if "objects" in cls.inputs:  # one object per feature, one field
        extra = {"objects": (X[:, :, None], np.ones(X.shape, dtype=bool))}
    if "images" in cls.inputs:
        extra = {"images": _images(X)}
    model = models.create(
        name, **{**CAPABILITY_FAST[name], **({"epochs": 2} if cls.reports_epochs else {})}
    )
    epochs: list[int] = []
    kwargs: dict[str, Any] = {
        k: tuple(a[:300] for a in v) if isinstance(v, tuple) else v[:300] for k, v in extra.items()
    }
    if cls.supports_eval_set:
        kwargs["eval_set"] = (X[300:], target[300:])
        if cls.parametric:
            kwargs["eval_param"] = np.full(100, 500.0)
        if "objects" in cls.inputs:
            kwargs["eval_objects"] = (X[300:, :, None], np.ones((100, X.shape[1]), dtype=bool))
        if "images" in cls.inputs:
            kwargs["eval_images"] = _images(X[300:])
    if cls.reports_epochs:
        kwargs["on_epoch"] = lambda epoch, history: epochs.append(epoch)
    model.fit(X[:300], target[:300], **kwargs)
    assert epochs == ([0, 1] if cls.reports_epochs else [])
    if not cls.supports_eval_set:
        # eval_set=None is "no eval_set" for every family
        models.create(name, **CAPABILITY_FAST[name]).fit(X, target, eval_set=None, **extra)
        with pytest.raises(ConfigError, match="unknown arguments"):
            models.create(name, **CAPABILITY_FAST[name]).fit(
                X, target, eval_set=(X, target), **extra
            )


def test_capability_flags_of_the_families() -> None:
    scales = {n for n in models.MODELS if models.model_class(n).scales_inputs}
    assert scales == {"mlp", "pnn", "deepsets", "set-kernel", "cnn", "mlp-regressor", "scaled"}
    assert models.model_class("easy-ensemble").supports_eval_set  # missed by the old name list
    assert models.PNN is models.model_class("pnn") and models.PNN.parametric
    assert set(models.REGRESSORS) == {"mlp-regressor", "bdt-regressor"}
    assert not set(models.REGRESSORS) & set(models.CLASSIFIERS)


@pytest.mark.parametrize("base", ["bdt-regressor", "pnn", "bagging", "bdtt"])
def test_ensembles_take_only_non_parametric_classifier_bases(
    base: str, rng: np.random.Generator
) -> None:
    X, y = binary(rng, 200)
    for family in ("easy-ensemble", "bagging", "undersample"):
        with pytest.raises(ConfigError) as info:
            models.create(family, base=base).fit(X, y)
        message = str(info.value)
        assert "\n" not in message and f"'{base}'" in message and "allowed: " in message


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_all_zero_weights_are_refused(name: str, rng: np.random.Generator) -> None:
    X, y = binary(rng, 100)
    target: Any = X[:, 0] if name.endswith("-regressor") else y
    extra: dict[str, Any] = {"param": np.where(y == 1, 500.0, np.nan)} if name == "pnn" else {}
    if "objects" in models.model_class(name).inputs:
        extra = {"objects": (X[:, :, None], np.ones(X.shape, dtype=bool))}
    if name == "cnn":
        extra = {"images": _images(X)}
    with pytest.raises(DataError, match="all sample weights are zero"):
        models.create(name, **CAPABILITY_FAST[name]).fit(
            X, target, sample_weight=np.zeros(100), **extra
        )


def test_regressors_save_without_classes(rng: np.random.Generator, tmp_path: Path) -> None:
    X, _ = binary(rng, 300)
    model = models.create("bdt-regressor", n_estimators=5).fit(X, X[:, 0])
    loaded = models.load(model.save(tmp_path / "r"))
    assert isinstance(loaded, models.Regressor) and not hasattr(loaded, "classes_")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_scaled_scales_the_eval_set_and_saves_one_folder(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    from hepsift.features.scaling import Scaler

    X, y = binary(rng, 1200)
    w = rng.uniform(0.5, 2.0, 1200)
    inner = models.create("bdt", n_estimators=200, early_stopping_rounds=3, learning_rate=0.5)
    model = models.Scaled(inner, scaling="robust").fit(
        X[:800], y[:800], sample_weight=w[:800], eval_set=(X[800:], y[800:])
    )
    ref = Scaler("robust").fit(X[:800], sample_weight=w[:800])
    np.testing.assert_allclose(model.scaler_.center_, ref.center_)
    assert model.estimator_.best_iteration_ < 199  # early stopping saw the (scaled) eval_set
    same = models.create("bdt", n_estimators=200, early_stopping_rounds=3, learning_rate=0.5)
    same.fit(
        model.scale_features(X[:800]),
        y[:800],
        sample_weight=w[:800],
        eval_set=(model.scale_features(X[800:]), y[800:]),
    )
    np.testing.assert_allclose(same.predict_proba(model.scale_features(X)), model.predict_proba(X))
    folder = model.save(tmp_path / "s")
    assert sorted(p.name for p in folder.iterdir()) == ["estimator", "model.json"]
    loaded = models.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # scaler_weight: the scaler's own weights (the run passes the event weights)
    other = models.Scaled("logistic").fit(X, y, sample_weight=w, scaler_weight=np.ones(1200))
    np.testing.assert_allclose(other.scaler_.center_, X.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_bdt_missing_values(rng: np.random.Generator, tmp_path: Path) -> None:
    """Issue 12: the BDT takes NaN (XGBoost's default branch) and, with ``missing``, a sentinel
    such as -999; a saved model and its ONNX graph agree on inputs with missing values."""
    X, y = binary(rng, 600)
    X[rng.random(X.shape) < 0.15] = np.nan
    model = models.create("bdt", n_estimators=20, max_depth=3, missing=-999.0, n_jobs=1)
    model.fit(X, y, eval_set=(X[:100], y[:100]))
    p_nan = model.predict_proba(X)
    assert np.all(np.isfinite(p_nan))
    sentinel = np.where(np.isnan(X), -999.0, X)
    np.testing.assert_array_equal(model.predict_proba(sentinel), p_nan)
    # without the sentinel option -999 is an ordinary (very small) value: different scores
    plain = models.create("bdt", n_estimators=20, max_depth=3, n_jobs=1).fit(X, y)
    assert np.abs(plain.predict_proba(sentinel) - plain.predict_proba(X)).max() > 1e-3
    loaded = models.load(model.save(tmp_path / "bdt"))
    np.testing.assert_array_equal(loaded.predict_proba(sentinel), p_nan)
    path = loaded.to_onnx(tmp_path / "bdt.onnx")
    assert check_parity(loaded, path, X.astype(np.float32), atol=1e-5) <= 1e-5
    assert check_parity(loaded, path, sentinel.astype(np.float32), atol=1e-5) <= 1e-5
    with pytest.raises(ConfigError, match="missing='x' is not allowed"):
        models.create("bdt", missing="x").fit(X, y)


@pytest.mark.parametrize("how", ["median", "mean", -1.5])
def test_scaled_imputes_nan_learned_on_training(
    rng: np.random.Generator, tmp_path: Path, how: Any
) -> None:
    """Issue 12: the families that cannot take NaN get an imputer learned on the training
    events, saved with the model and applied by its ONNX graph."""
    X, y = binary(rng, 500)
    X[rng.random(X.shape) < 0.1] = np.nan
    with pytest.raises(DataError, match="contain NaN"):
        models.Scaled("logistic").fit(X, y)
    model = models.Scaled("logistic", impute=how).fit(X, y)
    col = X[:, 1][np.isfinite(X[:, 1])]
    expected = {"median": np.median(col), "mean": np.mean(col)}.get(str(how), how)
    assert model.impute_values_[1] == pytest.approx(expected, rel=1e-6)
    filled = np.where(np.isnan(X), model.impute_values_[None, :], X)
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(filled), atol=1e-6)
    loaded = models.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.impute_values_, model.impute_values_)
    path = loaded.to_onnx(tmp_path / "m.onnx")
    assert check_parity(loaded, path, X.astype(np.float32), atol=1e-5) <= 1e-5
    with pytest.raises(ConfigError, match="impute='medain' is not allowed"):
        models.Scaled("logistic", impute="medain").fit(X, y)
