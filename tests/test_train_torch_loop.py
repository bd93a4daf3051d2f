"""The shared torch training loop: determinism, weights, early stopping, history, interrupts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hepsift.errors import ConfigError, DataError
from hepsift.train.torch_loop import History, train_module, weighted_auc


def _data(rng: np.random.Generator, n: int = 2000, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d)).astype(np.float32)
    logit = 1.5 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return X, y


def _net(d: int = 4, out: int = 1, seed: int = 0) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(d, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, out)
        )


def test_weighted_auc_matches_sklearn(rng: np.random.Generator) -> None:
    s = np.round(rng.normal(size=500), 1)  # ties on purpose
    y = rng.integers(0, 2, 500)
    w = rng.uniform(0.1, 3.0, 500)
    assert weighted_auc(s, y, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert weighted_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(weighted_auc(s, np.zeros(500)))
    # negative weights: the O(n^2) pairwise definition
    wn = rng.normal(1.0, 1.0, 500)
    sig, bkg = y == 1, y == 0
    pair = wn[sig][:, None] * wn[bkg][None, :]
    wins = (s[sig][:, None] > s[bkg][None, :]) + 0.5 * (s[sig][:, None] == s[bkg][None, :])
    assert weighted_auc(s, y, wn) == pytest.approx((pair * wins).sum() / pair.sum(), rel=1e-10)


def test_deterministic_and_global_rng_untouched(rng: np.random.Generator) -> None:
    X, y = _data(rng)
    before = torch.random.get_rng_state().clone()
    h1 = train_module(_net(), (X,), y, epochs=3, seed=7, progress=False)
    m1 = _net()
    train_module(m1, (X,), y, epochs=3, seed=7, progress=False)
    m2 = _net()
    h2 = train_module(m2, (X,), y, epochs=3, seed=7, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert h1.train_loss == h2.train_loss
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    m3 = _net()
    h3 = train_module(m3, (X,), y, epochs=3, seed=8, progress=False)
    assert h3.train_loss != h2.train_loss


def test_history_learns_and_auc_matches_module(rng: np.random.Generator) -> None:
    X, y = _data(rng)
    Xv, yv = _data(rng, 1000)
    m = _net()
    h = train_module(m, X, y, validation=(Xv, yv, None), epochs=8, progress=False, seed=1)
    assert isinstance(h, History) and h.epochs == len(h.val_auc) == len(h.lr)
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_auc[h.best_epoch] > 0.75
    with torch.no_grad():
        score = torch.sigmoid(m(torch.from_numpy(Xv))).numpy().ravel()
    # the module holds the best epoch's weights: its AUC is that epoch's validation AUC
    assert roc_auc_score(yv, score) == pytest.approx(h.val_auc[h.best_epoch], abs=1e-6)
    assert History.from_dict(h.to_dict()).val_loss == pytest.approx(h.val_loss)


def test_early_stopping_restores_best(rng: np.random.Generator) -> None:
    # pure-noise labels: validation loss stops improving quickly, a big net overfits
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = rng.integers(0, 2, 300)
    Xv = rng.normal(size=(300, 4)).astype(np.float32)
    yv = rng.integers(0, 2, 300)
    m = _net()
    h = train_module(
        m, X, y, validation=(Xv, yv, None), epochs=200, lr=3e-2, patience=3, progress=False
    )
    assert h.stopped_early and h.epochs < 200
    assert h.best_epoch == int(np.argmin(h.val_loss))
    with torch.no_grad():
        out = m(torch.from_numpy(Xv)).ravel()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            out, torch.from_numpy(yv.astype(np.float32))
        )
    assert float(loss) == pytest.approx(h.val_loss[h.best_epoch], rel=1e-5)


def test_weights_enter_the_loss(rng: np.random.Generator) -> None:
    X, y = _data(rng, 1000)
    w = np.where(y == 1, 5.0, 1.0)
    ma, mb = _net(), _net()
    train_module(ma, X, y, epochs=15, lr=1e-2, progress=False, schedule="none")
    train_module(mb, X, y, w, epochs=15, lr=1e-2, progress=False, schedule="none")
    with torch.no_grad():
        pa = torch.sigmoid(ma(torch.from_numpy(X))).mean()
        pb = torch.sigmoid(mb(torch.from_numpy(X))).mean()
    assert float(pb) > float(pa) + 0.1  # up-weighting signal pushes scores up


def test_multiclass_and_regression(rng: np.random.Generator) -> None:
    X = rng.normal(size=(1500, 3)).astype(np.float32)
    y = np.argmax(X, axis=1)
    m = _net(3, 3)
    w = rng.uniform(0.5, 1.5, 1500)
    h = train_module(m, (X,), y, loss="ce", validation=((X,), y, w), epochs=10, progress=False)
    assert h.val_auc[-1] > 0.9
    # the best epoch's validation AUC: weighted macro one-vs-rest AUC of the restored module
    with torch.no_grad():
        proba = torch.softmax(m(torch.from_numpy(X)), dim=1).double().numpy()
    ref = np.mean([roc_auc_score(y == c, proba[:, c], sample_weight=w) for c in range(3)])
    assert h.val_auc[h.best_epoch] == pytest.approx(ref, abs=1e-6)
    t = (2 * X[:, 0] - X[:, 1]).astype(np.float32)
    r = _net(3, 1)
    h = train_module(r, X, t, loss="mse", epochs=30, lr=1e-2, progress=False, schedule="cosine")
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]
    assert math.isnan(h.train_auc[-1])


def test_tuple_inputs_and_callback_stop(rng: np.random.Generator) -> None:
    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(5, 1)

        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.lin(torch.cat([x, m[:, None]], dim=1))
            return out

    X, y = _data(rng, 500)
    mass = rng.uniform(500, 1500, 500) / 1000.0
    seen: list[int] = []

    def cb(epoch: int, h: History) -> bool:
        seen.append(epoch)
        return epoch == 2

    h = train_module(Two(), (X, mass), y, epochs=10, on_epoch=cb, progress=False)
    assert seen == [0, 1, 2] and h.epochs == 3 and not h.stopped_early


def test_keyboard_interrupt_keeps_best(rng: np.random.Generator) -> None:
    X, y = _data(rng, 500)

    def cb(epoch: int, h: History) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    m = _net()
    h = train_module(m, X, y, validation=(X, y, None), epochs=10, on_epoch=cb, progress=False)
    assert h.interrupted and h.epochs == 2 and h.best_epoch in (0, 1)


def test_bad_inputs(rng: np.random.Generator) -> None:
    X, y = _data(rng, 100)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        train_module(_net(), Xn, y, progress=False)
    with pytest.raises(DataError, match="target"):
        train_module(_net(), X, y[:50], progress=False)
    with pytest.raises(ConfigError, match="did you mean 'cosine'"):
        train_module(_net(), X, y, schedule="cosin", progress=False)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="zero"):
        train_module(_net(), X, y, np.zeros(100), progress=False)


def test_progress_bar_runs(rng: np.random.Generator) -> None:
    X, y = _data(rng, 200)
    h = train_module(_net(), X, y, epochs=2, progress=True)
    assert h.epochs == 2


def test_batch_norm_with_a_trailing_single_event(rng: np.random.Generator) -> None:
    X, y = _data(rng, 257)  # 256 + 1: the last batch would hold one event
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    h = train_module(net, X, y, epochs=2, batch_size=256, progress=False)
    assert h.epochs == 2 and np.isfinite(h.train_loss).all()
