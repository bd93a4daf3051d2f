"""The parametric neural network: forward pass per mechanism, mass policies, balancing, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import hepsift.models as models
from hepsift.errors import ConfigError, DataError, ModelError
from hepsift.export import check_parity
from hepsift.models.pnn import (
    MAX_DISCRETE_MASSES,
    MECHANISMS,
    PNN,
    PNNNet,
    assign_background_mass,
    balanced_weights,
    mass_cells,
)

MASSES = np.array([500.0, 750.0, 1000.0, 1250.0, 1500.0])
FAST: dict[str, Any] = {
    "hidden": (16, 16),
    "epochs": 6,
    "batch_size": 128,
    "lr": 1e-2,
    "num_threads": 1,
    "patience": 10,
}


def toy(rng: np.random.Generator, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal: a peak at its mass in feature 0; background: a falling spectrum (GeV)."""
    y = (rng.random(n) < 0.5).astype(np.int64)
    m = np.where(y == 1, MASSES[rng.integers(0, MASSES.size, n)], np.nan)
    peak = rng.normal(np.nan_to_num(m, nan=1.0), 0.06 * np.nan_to_num(m, nan=1.0))
    x0 = np.where(y == 1, peak, 350.0 + rng.exponential(350.0, n))
    X = np.column_stack([x0, rng.normal(size=(n, 3))]).astype(np.float32)
    return X, y, m


def randomise(net: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def reference_forward(net: PNNNet, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The mechanisms written out in NumPy, layer by layer (ReLU, no dropout)."""
    sd = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
    h = np.concatenate([x, m[:, None]], axis=1) if net.mechanism == "concat" else x
    total = sum(net.widths)
    if net.mechanism != "concat":
        c = m[:, None] * sd["cond.weight"][:, 0][None, :] + sd["cond.bias"][None, :]
    start = 0
    for i, width in enumerate(net.widths):
        z = h @ sd[f"layers.{i}.weight"].T + sd[f"layers.{i}.bias"]
        part = slice(start, start + width)
        if net.mechanism == "bias":
            z = z + c[:, part]
        elif net.mechanism == "scale":
            z = z * c[:, part]
        elif net.mechanism == "affine":
            z = z * c[:, part] + c[:, total + start : total + start + width]
        h = np.maximum(z, 0.0)
        start += width
    return np.asarray((h @ sd["out.weight"].T + sd["out.bias"])[:, 0], dtype=np.float64)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_forward_matches_reference_and_depends_on_mass(
    mechanism: str, rng: np.random.Generator
) -> None:
    net = PNNNet(5, (8, 6), 1, mechanism=mechanism)
    randomise(net, 3)
    net.eval()
    x = rng.normal(size=(40, 5))
    m = rng.normal(size=40)
    out = net(torch.tensor(x, dtype=torch.float32), torch.tensor(m, dtype=torch.float32))
    assert out.shape == (40,)
    ref = reference_forward(net, x, m)
    np.testing.assert_allclose(out.detach().double().numpy(), ref, rtol=1e-4, atol=1e-5)
    # (n, 1) parameter column gives the same as (n,)
    out2 = net(torch.tensor(x, dtype=torch.float32), torch.tensor(m[:, None], dtype=torch.float32))
    assert torch.equal(out, out2)
    shifted = net(torch.tensor(x, dtype=torch.float32), torch.full((40,), 1.5))
    assert not torch.allclose(out, shifted)


def test_multiplicative_conditioning_starts_at_identity() -> None:
    torch.manual_seed(0)
    for mechanism in ("scale", "affine"):
        net = PNNNet(3, (4,), mechanism=mechanism)
        assert net.cond is not None
        assert torch.all(net.cond.weight[:4] == 0) and torch.all(net.cond.bias[:4] == 1)
    scale = PNNNet(3, (4,), mechanism="scale").eval()
    x = torch.randn(10, 3)
    assert torch.equal(scale(x, torch.zeros(10)), scale(x, torch.full((10,), 3.0)))


def test_net_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="did you mean 'affine'"):
        PNNNet(3, (4,), mechanism="afine")
    with pytest.raises(ConfigError, match="hidden layer"):
        PNNNet(3, (), mechanism="bias")
    with pytest.raises(ConfigError, match="dropout"):
        PNNNet(3, (4,), dropout=1.0)


# -- background masses -----------------------------------------------------------------------
def imbalanced_signal(rng: np.random.Generator, n_bkg: int = 30000) -> tuple[np.ndarray, ...]:
    sig = np.repeat([500.0, 1000.0, 1500.0], [7000, 2000, 1000])
    y = np.concatenate([np.ones(sig.size, np.int64), np.zeros(n_bkg, np.int64)])
    p = np.concatenate([sig, rng.uniform(300, 3000, n_bkg)])  # background: a "true" m_tt
    return p, y


def test_uniform_policy_is_uniform_over_the_mass_set_and_seeded(rng: np.random.Generator) -> None:
    p, y = imbalanced_signal(rng)
    a = assign_background_mass(p, y, policy="uniform", seed=7)
    b = assign_background_mass(p, y, policy="uniform", seed=7)
    c = assign_background_mass(p, y, policy="uniform", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[y == 1], p[y == 1])  # signal untouched
    values, counts = np.unique(a[y == 0], return_counts=True)
    np.testing.assert_array_equal(values, [500.0, 1000.0, 1500.0])
    # equal probabilities although the signal is 70/20/10: chi-square goodness of fit
    assert stats.chisquare(counts).pvalue > 1e-3


def test_identical_policy_follows_the_signal_distribution(rng: np.random.Generator) -> None:
    p, y = imbalanced_signal(rng)
    a = assign_background_mass(p, y, policy="identical", seed=1)
    values, counts = np.unique(a[y == 0], return_counts=True)
    np.testing.assert_array_equal(values, [500.0, 1000.0, 1500.0])
    expected = np.array([0.7, 0.2, 0.1]) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # with weights: the 1500 GeV signal carries 8x weight -> 7:2:8 proportions
    w = np.where(p == 1500.0, 8.0, 1.0)
    a = assign_background_mass(p, y, policy="identical", seed=2, sample_weight=w)
    _, counts = np.unique(a[y == 0], return_counts=True)
    expected = np.array([7.0, 2.0, 8.0]) / 17.0 * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_continuous_masses_use_the_range(rng: np.random.Generator) -> None:
    sig = rng.uniform(400, 1600, 2000)
    assert np.unique(sig).size > MAX_DISCRETE_MASSES
    y = np.concatenate([np.ones(2000, np.int64), np.zeros(5000, np.int64)])
    p = np.concatenate([sig, np.full(5000, np.nan)])
    a = assign_background_mass(p, y, policy="uniform", seed=3)
    lo, hi = sig.min(), sig.max()
    assert stats.kstest(a[y == 0], stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    cells = mass_cells(a, sig)
    assert set(np.unique(cells)) == set(range(10))


def test_given_policy_keeps_masses_and_needs_them(rng: np.random.Generator) -> None:
    p, y = imbalanced_signal(rng, 100)
    np.testing.assert_array_equal(assign_background_mass(p, y, policy="given"), p)
    p[-1] = np.nan
    with pytest.raises(DataError, match="finite mass"):
        assign_background_mass(p, y, policy="given")
    with pytest.raises(ConfigError, match="did you mean 'uniform'"):
        assign_background_mass(p, y, policy="unifrom")


def test_balanced_weights_equalise_every_mass_class_cell(rng: np.random.Generator) -> None:
    p, y = imbalanced_signal(rng, 3000)
    mass = assign_background_mass(p, y, policy="identical", seed=0)
    w = rng.uniform(0.1, 2.0, y.size)
    bw = balanced_weights(mass, y, w)
    cells = mass_cells(mass, mass[y == 1])
    # slow reference: loop over the cells
    n_cells = 0
    for c in np.unique(cells):
        for k in (0, 1):
            sel = (cells == c) & (y == k)
            if sel.any():
                n_cells += 1
                np.testing.assert_allclose(bw[sel].sum(), y.size / 6.0)
                np.testing.assert_allclose(bw[sel] / bw[sel].sum(), w[sel] / w[sel].sum())
    assert n_cells == 6
    assert bw.mean() == pytest.approx(1.0)
    # masses between the points go to the nearest signal mass
    np.testing.assert_array_equal(
        mass_cells([400.0, 740.0, 760.0, 1300.0, 5000.0], [500.0, 1000.0, 1500.0]),
        [0, 0, 1, 2, 2],
    )
    w_neg = w.copy()
    w_neg[(y == 0) & (cells == 2)] = -1.0
    with pytest.raises(DataError, match="cannot balance"):
        balanced_weights(mass, y, w_neg)


# -- the classifier --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted() -> tuple[PNN, np.ndarray, np.ndarray, np.ndarray]:
    X, y, m = toy(np.random.default_rng(5), 3000)
    model = PNN(mechanism="affine", **FAST).fit(X[:2000], y[:2000], param=m[:2000])
    return model, X[2000:], y[2000:], m[2000:]


def test_pnn_learns_the_mass_dependence(
    fitted: tuple[PNN, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    model, X, y, m = fitted
    assert model.signal_masses_.tolist() == MASSES.tolist()
    for mass in (750.0, 1250.0):
        sel = (y == 0) | (m == mass)
        s = model.decision_score(X[sel], mass)
        assert roc_auc_score(y[sel], s) > 0.85
    # a 1250 GeV signal event scores higher under the right hypothesis than a wrong one
    sig = X[m == 1250.0]
    right = model.decision_score(sig, 1250.0)
    wrong = model.decision_score(sig, 500.0)
    assert np.median(right - wrong) > 0.1
    proba = model.predict_proba(X, param=m[0] if np.isfinite(m[0]) else 1000.0)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1.0)
    per_event = np.where(np.isfinite(m), m, 1000.0)
    assert model.predict(X, per_event).shape == (len(X),)


def test_fit_is_deterministic_and_keeps_global_rng(rng: np.random.Generator) -> None:
    X, y, m = toy(rng, 600)
    state = torch.random.get_rng_state()
    a = PNN(mechanism="bias", dropout=0.1, **{**FAST, "epochs": 2}).fit(X, y, param=m)
    assert torch.equal(state, torch.random.get_rng_state())
    b = PNN(mechanism="bias", dropout=0.1, **{**FAST, "epochs": 2}).fit(X, y, param=m)
    np.testing.assert_array_equal(a.decision_score(X, 750.0), b.decision_score(X, 750.0))
    assert clone(a).get_params() == a.get_params()


def test_eval_set_with_eval_param_drives_early_stopping(rng: np.random.Generator) -> None:
    X, y, m = toy(rng, 1200)
    # given masses and no balancing: the validation weights are 1, so the loop's val_loss is
    # the plain mean binary cross-entropy of the validation events, computable from outside
    m = np.where(y == 1, m, MASSES[rng.integers(0, MASSES.size, len(y))])
    model = PNN(
        mechanism="concat",
        background_mass="given",
        balance=False,
        **{**FAST, "epochs": 12, "lr": 0.05, "patience": 3},
    ).fit(X[:400], y[:400], param=m[:400], eval_set=(X[800:], y[800:]), eval_param=m[800:])
    hist = model.history_
    assert np.all(np.isfinite(hist.val_loss))
    best = int(np.argmin(hist.val_loss))
    assert hist.best_epoch == best
    assert best < hist.epochs - 1  # the weights of a later epoch were there to be replaced
    p = np.clip(model.predict_proba(X[800:], m[800:])[:, 1], 1e-12, 1 - 1e-12)
    yv = y[800:]
    val_loss = -np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
    # the model holds the best epoch's weights, not the last epoch's
    assert val_loss == pytest.approx(min(hist.val_loss), rel=1e-5)
    assert val_loss < hist.val_loss[-1] - 1e-6
    inner = PNN(mechanism="concat", validation_fraction=0.25, **{**FAST, "epochs": 2})
    inner.fit(X, y, param=m)
    assert np.all(np.isfinite(inner.history_.val_loss))


def test_save_load_gives_identical_scores(
    fitted: tuple[PNN, np.ndarray, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    model, X, _, _ = fitted
    path = model.save(tmp_path / "pnn")
    meta = json.loads((path / "model.json").read_text())
    assert meta["family"] == "pnn" and meta["params"]["mechanism"] == "affine"
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "weights.safetensors"]
    loaded = models.load(path)
    assert isinstance(loaded, PNN)
    for mass in (500.0, 1000.0, 1111.0):
        np.testing.assert_array_equal(loaded.decision_score(X, mass), model.decision_score(X, mass))
    assert loaded.get_params() == model.get_params()
    (path / "weights.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ModelError, match="safetensors"):
        models.load(path)


def test_onnx_has_two_inputs_and_matches(
    fitted: tuple[PNN, np.ndarray, np.ndarray, np.ndarray],
    tmp_path: Path,
    rng: np.random.Generator,
) -> None:
    import onnxruntime as ort

    model, X, _, _ = fitted
    path = model.to_onnx(tmp_path / "pnn.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in sess.get_inputs()}
    assert list(inputs) == ["X", "param"]
    assert inputs["X"].type == inputs["param"].type == "tensor(float)"
    assert inputs["X"].shape[1] == X.shape[1] and inputs["param"].shape[1] == 1
    masses = rng.uniform(450.0, 1600.0, len(X))  # per event, also between the trained masses
    assert check_parity(model, path, X, param=masses) <= 1e-5
    assert check_parity(model, path, X, param=masses.reshape(-1, 1)) <= 1e-5
    assert check_parity(model, path, X, param=1000.0) <= 1e-5
    one = sess.run(None, {"X": X[:1], "param": np.array([[1000.0]], dtype=np.float32)})[0]
    np.testing.assert_allclose(one, model.predict_proba(X[:1], 1000.0), atol=1e-5)


def test_pnn_user_errors(rng: np.random.Generator) -> None:
    X, y, m = toy(rng, 300)
    with pytest.raises(ModelError, match="needs param="):
        PNN(**FAST).fit(X, y)
    with pytest.raises(ConfigError, match="unknown arguments"):
        PNN(**FAST).fit(X, y, param=m, sample_mass=m)
    with pytest.raises(ConfigError, match="did you mean 'concat'"):
        PNN(mechanism="concatenate", **FAST).fit(X, y, param=m)
    with pytest.raises(ConfigError, match="did you mean 'identical'"):
        PNN(background_mass="identica", **FAST).fit(X, y, param=m)
    with pytest.raises(DataError, match="shape"):
        PNN(**FAST).fit(X, y, param=m[:10])
    y3 = y.copy()
    y3[:5] = 2
    with pytest.raises(ModelError, match="exactly 2 classes"):
        PNN(**FAST).fit(X, y3, param=np.where(y3 > 0, 500.0, np.nan))
    bad = m.copy()
    bad[np.flatnonzero(y == 1)[0]] = np.nan
    with pytest.raises(DataError, match="signal events need a finite mass"):
        PNN(**FAST).fit(X, y, param=bad)
    model = PNN(**{**FAST, "epochs": 1}).fit(X, y, param=m)
    with pytest.raises(ModelError, match="needs param="):
        model.predict_proba(X)
    with pytest.raises(DataError, match="NaN"):
        model.predict_proba(X, param=np.full(len(X), np.nan))


def test_registry_knows_pnn() -> None:
    model = models.create("pnn", mechanism="bias", hidden=(8,))
    assert isinstance(model, PNN) and model.mechanism == "bias"
    hp = models.hyperparameters("pnn")
    assert hp["mechanism"] == "affine" and hp["background_mass"] == "uniform"
    with pytest.raises(ConfigError, match="did you mean 'mechanism'"):
        models.create("pnn", mechanisms="bias")
