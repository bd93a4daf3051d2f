"""plots.datamc: chi2 and KS tell agreeing data from shifted data; blinding hides data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hepsift.plots.datamc import datamc, datamc_numbers


def _mc(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    bkg = rng.exponential(1.0, 40_000)
    sig = rng.normal(2.0, 0.2, 4_000)
    # expected yields: 2000 background, 100 signal events
    return {"bkg": (bkg, np.full(bkg.size, 0.05)), "sig": (sig, np.full(sig.size, 0.025))}


def _data(rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    n_b, n_s = rng.poisson(2000), rng.poisson(100)
    return np.concatenate([rng.exponential(1.0, n_b) + shift, rng.normal(2.0, 0.2, n_s)])


def test_agreeing_data_pass_and_shifted_data_fail() -> None:
    rng = np.random.default_rng(11)
    mc = _mc(rng)
    edges = np.linspace(0, 5, 26)
    good = datamc_numbers(mc, _data(rng), bins=edges)
    bad = datamc_numbers(mc, _data(rng, shift=0.3), bins=edges)
    assert good.ndf == 25
    assert good.chi2 / good.ndf < 2.0 and good.ks_pvalue > 1e-3
    assert bad.chi2 / bad.ndf > 5.0 and bad.ks_pvalue < 1e-6
    assert np.isclose(sum(h.sum() for h in good.mc.values()), 2100, rtol=0.02)


def test_blinded_range_hides_data() -> None:
    rng = np.random.default_rng(12)
    res = datamc_numbers(_mc(rng), _data(rng), bins=np.linspace(0, 5, 26), blind=(1.8, 2.2))
    hidden = ~res.visible
    assert hidden.sum() == 2 and np.all(res.data[hidden] == 0)
    assert res.ndf == 23
    artists = datamc(res, xlabel="x")
    assert artists
    plt.close("all")
