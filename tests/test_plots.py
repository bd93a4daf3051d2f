"""Plot functions: ax=None or given, artists returned, drawn data equal to the inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepsift import metrics, plots


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _rocs(rng):
    y = rng.integers(0, 2, 500)
    out = {}
    for name, shift in (("good", 2.0), ("weak", 0.5)):
        s = rng.normal(y * shift, 1.0)
        out[name] = metrics.roc_curve(y, s)
    return out


def test_roc_rejection_draws_inverse_background_efficiency(rng):
    rocs = _rocs(rng)
    _fig, ax = plt.subplots()
    artists = plots.roc_rejection(rocs, intervals={"good": (0.9, 0.95)}, ax=ax)
    assert len(artists) == 3  # two models and the random line
    _x, y = artists[0].get_data()
    keep = rocs["good"].background_efficiency > 0
    assert np.allclose(
        y, 1.0 / rocs["good"].background_efficiency[keep & (rocs["good"].signal_efficiency > 0)]
    )
    assert ax.get_yscale() == "log"
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert "[0.9000, 0.9500]" in labels[0] and f"{rocs['good'].auc:.4f}" in labels[0]


def test_roc_efficiency_uses_current_axes_when_none(rng):
    rocs = _rocs(rng)
    plt.figure()
    artists = plots.roc_efficiency(rocs)
    assert artists[0].axes is plt.gca()
    x, _y = artists[1].get_data()
    assert np.array_equal(x, rocs["weak"].background_efficiency)


def test_score_distributions_flag_low_ks(rng):
    n = 400
    y = rng.integers(0, 2, n)
    s = rng.uniform(0, 1, n)
    w = np.ones(n)
    _fig, ax = plt.subplots()
    artists = plots.score_distributions(
        (s, y, w),
        (s, y, w),
        class_names=["bkg", "sig"],
        ks_pvalues={"bkg": 0.5, "sig": 0.01},
        ax=ax,
    )
    assert len(artists) == 4
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert any("sig test" in t and "OVERTRAINING" in t for t in labels)
    assert not any("bkg test" in t and "OVERTRAINING" in t for t in labels)
    # filled test histogram is normalised to unit area
    stairs = artists[0]
    values, edges = stairs.get_data().values, stairs.get_data().edges
    assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)


def test_confusion_matrix_annotations(rng):
    m = np.array([[5.0, 1.0], [2.0, 7.0]])
    _fig, ax = plt.subplots()
    artists = plots.confusion_matrix(m, ["b", "s"], title="counts", ax=ax)
    texts = [a.get_text() for a in artists[1:]]
    assert texts == ["5", "1", "2", "7"]
    with pytest.raises(ValueError, match="shape"):
        plots.confusion_matrix(m, ["a", "b", "c"], ax=ax)


def test_significance_scan_marks_best(rng):
    cuts = np.linspace(0, 1, 11)
    z = np.sin(cuts * 3)
    _fig, ax = plt.subplots()
    artists = plots.significance_scan({"m": (cuts, z)}, ax=ax)
    star = artists[1]
    assert star.get_xdata()[0] == pytest.approx(cuts[np.argmax(z)])


def test_importance_and_learning_curves_and_auc_vs_mass():
    _fig, ax = plt.subplots()
    bars = plots.feature_importance({"a": 0.1, "b": 0.3}, errors={"a": 0.01}, ax=ax)[0]
    assert [p.get_width() for p in bars.patches] == [0.1, 0.3]  # most important on top
    _fig, ax = plt.subplots()
    hist = {"loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85], "val_auc": [0.7, 0.75, 0.8]}
    artists = plots.learning_curves(hist, ax=ax)
    assert len(artists) == 3
    assert list(artists[1].get_ydata()) == [1.1, 0.9, 0.85]
    rows = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]
    assert plots.history_series(rows) == {"loss": [1.0, 0.5]}
    _fig, ax = plt.subplots()
    art = plots.auc_vs_mass({"pnn": ([500, 1000], [0.8, 0.9])}, ax=ax)
    assert len(art) == 1


def test_metric_vs_mass_and_auc_by_mechanism_draw_their_inputs():
    _fig, ax = plt.subplots()
    art = plots.metric_vs_mass(
        {"pnn": ([500, 1000], [20.0, 80.0]), "ded": ([500, 1000], [25.0, 70.0])},
        ylabel="rejection",
        log=True,
        ax=ax,
    )
    assert len(art) == 2 and ax.get_yscale() == "log" and ax.get_ylabel() == "rejection"
    assert list(art[1].lines[0].get_ydata()) == [25.0, 70.0]
    _fig, ax = plt.subplots()
    grid = {
        ("affine", "uniform"): ([500, 1000], [0.8, 0.9]),
        ("concat", "uniform"): ([500, 1000], [0.7, 0.85]),
        ("affine", "identical"): ([500, 1000], [0.75, 0.88]),
    }
    lines = plots.auc_by_mechanism(grid, reference=([500, 1000], [0.81, 0.91]), ax=ax)
    assert [ln.get_label() for ln in lines] == [
        "affine/uniform",
        "concat/uniform",
        "affine/identical",
        "dedicated",
    ]
    assert lines[0].get_color() == lines[2].get_color() != lines[1].get_color()
    assert lines[0].get_linestyle() != lines[2].get_linestyle()
    assert list(lines[3].get_ydata()) == [0.81, 0.91]


def test_style_and_label_do_not_leak():
    before = dict(matplotlib.rcParams)
    with plots.style():
        _fig, ax = plt.subplots()
        plots.hep_label(ax, lumi_fb=36.1)
    assert matplotlib.rcParams["font.family"] == before["font.family"]
