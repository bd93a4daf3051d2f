"""Unit tests of the detector model and reconstruction against slow reference computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from hepsift.generate import constants as C
from hepsift.generate import detector as D
from hepsift.generate import reconstruct as R
from hepsift.generate.scenarios import neutrino_pz


def test_pairs_matches_brute_force(rng: np.random.Generator) -> None:
    n = 7
    a_ev = np.sort(rng.integers(0, n, 15))
    b_ev = np.sort(rng.integers(0, n, 30))
    b = D.Objects.build(n, b_ev, b_ev * 0.0, b_ev * 0.0, b_ev * 0.0)
    ia, ib = R.pairs(a_ev, b.offsets)
    got = sorted(zip(ia.tolist(), ib.tolist(), strict=True))
    want = sorted((i, j) for i in range(len(a_ev)) for j in range(len(b_ev)) if a_ev[i] == b_ev[j])
    assert got == want


def test_sparse_grid_lookup_matches_dense(rng: np.random.Generator) -> None:
    n, ne, nphi = 3, 10, 8
    flat = rng.integers(0, n * ne * nphi, 200)
    et = rng.random(200)
    grid = D.SparseGrid.from_deposits(n, ne, nphi, flat, et)
    dense = np.bincount(flat, weights=et, minlength=n * ne * nphi).reshape(n, ne, nphi)
    ev = rng.integers(0, n, 500)
    ie = rng.integers(-3, ne + 3, 500)
    ip = rng.integers(-20, 20, 500)
    inside = (ie >= 0) & (ie < ne)
    want = np.where(inside, dense[ev, np.clip(ie, 0, ne - 1), ip % nphi], 0.0)
    np.testing.assert_allclose(grid.lookup(ev, ie, ip), want)
    dev, die, dip = grid.decode()
    np.testing.assert_allclose(grid.values, dense[dev, die, dip])


def test_lateral_kernel_is_normalised_gaussian_integral() -> None:
    u_eta = np.array([0.1, 0.5, 0.93])
    u_phi = np.array([0.7, 0.5, 0.02])
    sigma = 0.012
    kern = D._lateral_kernel(u_eta, u_phi, ((1.0, sigma),))
    np.testing.assert_allclose(kern.sum(axis=(1, 2)), 1.0)
    # reference: numerical integral of the 2D Gaussian over one cell, renormalised on 5x5
    cell_e, cell_p = C.ECAL_CELL_ETA, D.ECAL_DPHI
    for k in range(3):

        def frac(lo: float, hi: float, u: float, cell: float) -> float:
            val, _ = integrate.quad(
                lambda x: stats.norm.pdf(x, scale=sigma), lo - u * cell, hi - u * cell
            )
            return float(val)

        fe = np.array([frac(i * cell_e, (i + 1) * cell_e, u_eta[k], cell_e) for i in range(-2, 3)])
        fp = np.array([frac(i * cell_p, (i + 1) * cell_p, u_phi[k], cell_p) for i in range(-2, 3)])
        ref = np.outer(fe, fp)
        np.testing.assert_allclose(kern[k], ref / ref.sum(), rtol=1e-6, atol=1e-9)


def test_ecal_deposit_conserves_transverse_energy() -> None:
    ev = np.array([0, 0, 1, 1])
    e = np.array([50.0, 0.5, 20.0, 3.0])
    eta = np.array([0.3, -1.0, 2.0, 0.0])
    phi = np.array([3.13, 0.0, -3.14, 1.0])  # deposits wrap around phi = +-pi
    flat, et = D._ecal_deposit(ev, e, eta, phi, ((0.85, 0.0065), (0.15, 0.02)))
    grid = D.SparseGrid.from_deposits(2, C.ECAL_N_ETA, C.ECAL_N_PHI, flat, et)
    gev, gie, _ = grid.decode()
    # the E of cells (E_T * cosh(eta_cell)) adds up to the deposited energy per event
    e_cells = grid.values * np.cosh(D.ecal_cell_eta(gie))
    np.testing.assert_allclose(np.bincount(gev, weights=e_cells), [50.5, 23.0], rtol=1e-9)


def test_btag_working_point_efficiencies() -> None:
    """The 77 % WP cut (MV2c10 > 0.6459) keeps 77 % b, ~20 % c, ~1 % light (normal CDF)."""
    wp = np.tanh(C.BTAG_SLOPE * 0.0 + np.arctanh(C.BTAG_MV2C10_WP77))
    assert wp == pytest.approx(C.BTAG_MV2C10_WP77)
    assert stats.norm.sf(0.0, loc=C.BTAG_MU_B) == pytest.approx(0.77, abs=0.002)
    assert stats.norm.sf(0.0, loc=C.BTAG_MU_C) == pytest.approx(0.20, abs=0.002)
    assert stats.norm.sf(0.0, loc=C.BTAG_MU_LIGHT) == pytest.approx(0.01, abs=0.0005)


def test_neutrino_pz_satisfies_w_mass(rng: np.random.Generator) -> None:
    n = 200
    pt = rng.uniform(30, 100, n)
    eta = rng.uniform(-2, 2, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    lep = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], 1)
    # neutrinos from a real W decay: build them so that m(l nu) = m_W exactly
    nu_pt = rng.uniform(20, 60, n)
    nu_phi = phi + rng.uniform(2.0, 4.0, n)
    mx, my = nu_pt * np.cos(nu_phi), nu_pt * np.sin(nu_phi)
    pz = neutrino_pz(lep, mx, my)
    e_nu = np.sqrt(mx**2 + my**2 + pz**2)
    tot = lep + np.stack([mx, my, pz, e_nu], 1)
    m2 = tot[:, 3] ** 2 - np.sum(tot[:, :3] ** 2, axis=1)
    real = m2 > 0
    # where a real solution exists the W mass is reproduced; otherwise m_T-like (smaller)
    ptl = np.hypot(lep[:, 0], lep[:, 1])
    mt2 = 2 * (ptl * nu_pt - lep[:, 0] * mx - lep[:, 1] * my)
    has_sol = mt2 <= C.W_MASS_GEV**2
    np.testing.assert_allclose(np.sqrt(m2[real & has_sol]), C.W_MASS_GEV, rtol=1e-6)


def test_delta_phi_wraps() -> None:
    np.testing.assert_allclose(
        R.delta_phi(np.array([3.1, -3.1]), np.array([-3.1, 3.1])),
        [-0.0831853, 0.0831853],
        atol=1e-6,
    )


def test_overlap_matrix_conserves() -> None:
    m = R._overlap_matrix(256, 50)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    _, frac = R._pixels_of_cells(64, 50)
    np.testing.assert_allclose(frac.sum(axis=1), 1.0)
