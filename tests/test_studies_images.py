"""The images study (CNN on images vs tables), its mean-image figure and its command."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hepsift.cli import main
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError
from hepsift.plots.images import mean_images, plot_mean_images
from hepsift.studies.images import SEED_TABLE, compare, format_table, plan_models


def _toy(rng: np.random.Generator, n: int = 400) -> Dataset:
    """Low-level columns that separate the classes, high-level ones that do not, and images
    with a class-dependent blob."""
    y = rng.integers(0, 2, n)
    ll = rng.normal(size=(n, 3)) + 2.0 * y[:, None]
    hl = rng.normal(size=(n, 2))
    img = rng.exponential(0.2, (n, 2, 4, 6)).astype(np.float32)
    img[y == 1, 0, 1:3, 2:4] += 2.0
    return Dataset(
        X=np.column_stack([ll, hl]).astype(np.float32),
        y=y,
        weight=np.ones(n),
        feature_names=("ll_a", "ll_b", "ll_c", "hl_a", "hl_b"),
        class_names=("black-hole", "sphaleron"),
        images=img.astype(np.float16),
    )


@pytest.mark.slow
def test_compare_trains_each_table_and_the_images(rng: np.random.Generator) -> None:
    ds = _toy(rng, 240)
    models: list[tuple[str, str, dict[str, Any]]] = [
        ("cnn", "cnn", {"width": 2, "blocks": [1], "head": 4, "epochs": 2, "num_threads": 1}),
        ("bdt", "bdt", {"n_estimators": 5, "max_depth": 2, "n_jobs": 1}),
    ]
    result = compare(ds, models, seeds=(0, 1), bootstrap=20)
    got = result["models"]
    assert list(got) == ["cnn", "bdt-low", "bdt-high"]
    assert got["cnn"]["input"] == "images" and got["bdt-low"]["input"] == "low"
    assert got["bdt-low"]["seed_row"] == "XGBoost low level"
    for entry in got.values():
        assert len(entry["per_seed"]) == 2
        assert 0.0 <= entry["accuracy_mean"] <= 1.0 and entry["accuracy_bootstrap_std"] > 0
        cm = np.asarray(entry["confusion_mean"])
        assert cm.shape == (2, 2) and np.allclose(cm.sum(axis=1), 1.0)
    # the low-level columns carry the label, the high-level ones do not
    assert got["bdt-low"]["accuracy_mean"] > 0.8 > got["bdt-high"]["accuracy_mean"]
    assert got["bdt-low"]["auc_mean"] > 0.9
    text = format_table(result)
    for name in got:
        assert name in text
    m, s = SEED_TABLE["XGBoost low level"]
    assert f"{m:.3f} +- {s:.3f}" in text


def test_plans_and_errors(rng: np.random.Generator) -> None:
    plans = plan_models([("m", "mlp", {}), ("c", "cnn", {})])
    assert [(p.name, p.table) for p in plans] == [
        ("m-low", "low"),
        ("m-high", "high"),
        ("c", "images"),
    ]
    ds = _toy(rng, 40).select_features(["hl_a", "hl_b"])
    with pytest.raises(ConfigError, match="'ll_'"):
        compare(ds, [("bdt", "bdt", {})], seeds=(0,))
    with pytest.raises(ConfigError, match="seed"):
        compare(ds, [("bdt", "bdt", {})], seeds=())


def test_mean_images_per_class(rng: np.random.Generator) -> None:
    ds = _toy(rng, 100)
    assert ds.images is not None
    w = rng.uniform(0.5, 2.0, 100)
    means = mean_images(ds.images, ds.y, 2, weight=w)
    for c in range(2):
        m = ds.y == c
        ref = np.average(ds.images[m].astype(np.float64), axis=0, weights=w[m])
        np.testing.assert_allclose(means[c], ref, rtol=1e-10)
    drawn = plot_mean_images(ds.images, ds.y, ds.class_names, channels=("ECAL", "HCAL"))
    assert len(drawn["images"]) == 4 and drawn["axes"].shape == (2, 2)
    import matplotlib.pyplot as plt

    plt.close(drawn["figure"])


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--seeds", "0"], "--seeds"), (["--out", ""], "--out"), (["--events", "0"], "--events")],
)
def test_command_refuses_bad_options(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "images", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_report_draws_the_mean_images_when_the_data_have_images(
    rng: np.random.Generator,
) -> None:
    from hepsift.report.build import _images_figure
    from hepsift.report.figures import FigureSet

    ds = _toy(rng, 60)
    record = _images_figure(FigureSet(None, formats=("png",), dpi=30), ds)
    assert record.key == "mean_images" and record.png.startswith(b"\x89PNG")
