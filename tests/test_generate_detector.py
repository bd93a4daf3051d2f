"""Unit tests of the detector model and reconstruction against slow reference computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from hepsift.generate import constants as C
from hepsift.generate import detector as D
from hepsift.generate import physics_checks as P
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


# --------------------------------------------------------------------------- realism checks
# Synthetic particles through the detector model (no Pythia): fast, seeded, physical numbers.

_MASS = {13: 0.10566, 211: 0.13957, 130: 0.49761}


def _particles(rows: list[tuple[int, int, float, float, float]]) -> dict[str, np.ndarray]:
    """Flat final-state arrays from (event, pdg id, pT, eta, phi) rows (GeV), sorted by event."""
    arr = np.array(sorted(rows, key=lambda r: r[0]), dtype=np.float64).reshape(-1, 5)
    ev, pid, pt, eta, phi = arr.T
    pid = pid.astype(np.int64)
    m = np.array([_MASS.get(abs(int(p)), 0.0) for p in pid])
    pz = pt * np.sinh(eta)
    charge = np.where(np.abs(pid) == 13, -np.sign(pid), 0.0)
    charge = np.where(np.abs(pid) == 211, np.sign(pid), charge)
    return {
        "event": ev.astype(np.int64),
        "id": pid,
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pz,
        "e": np.sqrt(pt**2 + pz**2 + m**2),
        "charge": charge,
    }


def _empty_truth(n: int) -> dict[str, object]:
    empty = D.Objects.build(n, np.zeros(0, np.int64), *(np.zeros(0) for _ in range(3)))
    return {
        "hard_photons": empty,
        "prompt_photons": empty,
        "b_hadrons": empty,
        "c_hadrons": empty,
        "mhat": np.zeros(n),
    }


def test_cell_normal_is_a_fixed_standard_normal() -> None:
    keys = np.arange(200_000, dtype=np.int64) * 7919
    z = D.cell_normal(keys, 3)
    np.testing.assert_array_equal(z, D.cell_normal(keys, 3))  # same cell, same noise
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert np.corrcoef(z, D.cell_normal(keys, 4))[0, 1] < 0.01  # other seed: independent


def test_sigma68_and_tails_against_normal_reference(rng: np.random.Generator) -> None:
    x = rng.normal(125.0, 2.0, 200_000)
    # the smallest 68 % interval of a normal distribution is +-0.9945 sigma
    assert P.sigma68(x) == pytest.approx(2.0 * stats.norm.ppf(0.84), rel=0.01)
    lo, hi = P.fraction_outside(x, 120.0, 130.0)
    assert lo == pytest.approx(stats.norm.cdf(-2.5), rel=0.1)
    assert hi == pytest.approx(stats.norm.cdf(-2.5), rel=0.1)
    # brute force on a small sample: the smallest window holding ceil(0.6827 n) values
    y = np.sort(rng.normal(size=25))
    k = int(np.ceil(0.6827 * 25))
    want = min(y[i + k - 1] - y[i] for i in range(25 - k + 1)) / 2
    assert P.sigma68(y) == pytest.approx(want)
    assert P.zero_fraction(np.array([0.0, 1.0, 0.0, -2.0])) == 0.5


def test_lone_muon_is_isolated_and_balances_met(rng: np.random.Generator) -> None:
    """A muon's own ECAL + HCAL deposits are neither in its etcone20 nor in the calorimeter
    term of MET: a 10 GeV muon is isolated; in muon (10 GeV) + photon (30 GeV, opposite) +
    neutrino events MET is the neutrino (its 1.8 GeV MIP deposit would shift it)."""
    n = 300
    phi0 = rng.uniform(-np.pi, np.pi, n)
    rows = []
    for i in range(n):
        rows.append((i, 13, 10.0, 0.3, phi0[i]))
        rows.append((i, 22, 30.0, -0.2, phi0[i] + np.pi))
        rows.append((i, 12, 20.0, 0.5, phi0[i]))  # balances muon (10) + photon (-30)
    for mu in (0.0, C.PILEUP_MU_MEAN):
        det = D.simulate_particles(n, _particles(rows), rng, truth=_empty_truth(n), pileup_mu=mu)
        assert len(det.muons) > 0.9 * n
        et20, _ = R.muon_isolation(det)
        rel = et20 / det.muons.pt
        # cell noise (and pile-up) alone: ~1 % (~7 %) fail; the own MIP (1.8 GeV) would fail half
        assert np.mean(rel < C.LEPTON_ISO_PTCONE30_REL_MAX) > (0.97 if mu == 0 else 0.88)
        assert abs(np.median(et20)) < (0.1 if mu == 0 else 0.4)
        met, met_phi = R.missing_et(det)
        has_mu = np.bincount(det.muons.event, minlength=n) == 1
        # expected MET: the neutrino (20 GeV along the muon)
        mx = met * np.cos(met_phi) - 20.0 * np.cos(phi0)
        my = met * np.sin(met_phi) - 20.0 * np.sin(phi0)
        assert np.median(np.hypot(mx, my)[has_mu]) < 1.0
        assert abs(np.median(met[has_mu]) - 20.0) < 0.5


def _photon_events(
    n: int, rng: np.random.Generator, pt: float = 50.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    eta = rng.uniform(-0.6, 0.6, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return eta, _particles([(i, 22, pt, eta[i], phi[i]) for i in range(n)])


def test_weta2_does_not_depend_on_impact_point(rng: np.random.Generator) -> None:
    n = 1500
    eta, fs = _photon_events(n, rng)
    det = D.simulate_particles(n, fs, rng, truth=_empty_truth(n), pileup_mu=0.0)
    cand = R.em_candidates(det, rng, 20.0)
    u = ((eta[cand.event] + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA) % 1.0
    d = np.abs(u - 0.5)
    centre = np.median(cand.weta2[d < 0.15])
    edge = np.median(cand.weta2[d > 0.35])
    assert abs(edge / centre - 1.0) < 0.03
    # the effect being corrected: an ideal shower at a cell edge is > 20 % wider than at the
    # centre; the correction maps both onto the centre value
    bary, w = D.em_profile_weta2(np.array([0.5, 0.02]))
    assert w[1] > 1.2 * w[0]
    np.testing.assert_allclose(w + R.weta2_impact_correction(bary), w[0], rtol=1e-6)


def test_isolation_with_pileup_is_centred_and_not_zero(rng: np.random.Generator) -> None:
    """Pile-up + cell noise, minus rho x area: etcone20 of isolated photons is centred near 0
    and often negative (48 % of isolated leptons in ATLAS 2016 data), never exactly 0; Rhad
    is not exactly 0 either; leaking pile-up tracks reach ptcone20 for a few photons."""
    n = 600
    _, fs = _photon_events(n, rng)
    det = D.simulate_particles(n, fs, rng, truth=_empty_truth(n))
    assert det.rho is not None and 2.0 < np.median(det.rho) < 10.0
    cand = R.em_candidates(det, rng, 20.0)
    assert len(cand.et) > 0.95 * n
    assert 0.3 < np.mean(cand.etcone20 < 0) < 0.7
    assert abs(np.median(cand.etcone20)) < 0.5
    assert P.zero_fraction(cand.etcone20) == 0.0
    assert P.zero_fraction(cand.rhad) < 0.05
    assert 0.0 < np.mean(cand.ptcone20 > 0) < 0.3
    # no pile-up: no rho, no pile-up tracks
    det0 = D.simulate_particles(n, fs, rng, truth=_empty_truth(n), pileup_mu=0.0)
    assert det0.rho is not None and np.median(det0.rho) < 0.5
    assert len(det0.tracks) == 0


def test_conversions_and_low_side_tail(rng: np.random.Generator) -> None:
    eta = np.linspace(0.0, 2.37, 7)
    p = D.conversion_probability(eta)
    assert np.all(np.diff(p) > 0) and 0.15 < p[0] < 0.3 and p[-1] < 0.7
    n = 200_000
    eta = rng.uniform(-2.37, 2.37, n)
    conv = D._conversions(eta, rng)
    assert 0.2 < np.mean(conv > 0) < 0.4
    assert set(np.unique(conv)) == {0, 1, 2, 3, 4, 5}
    e = np.full(n, 60.0)
    r = D.em_response(e, conv, rng) / e
    r_u, r_c = r[conv == 0], r[conv > 0]
    # median calibrated; converted photons: wider and a low-side tail
    assert abs(np.median(r_u) - 1) < 0.002 and abs(np.median(r_c) - 1) < 0.006
    assert P.sigma68(r_c) > 1.1 * P.sigma68(r_u)
    assert np.mean(r_c < 0.95) > 2 * np.mean(r_c > 1.05)


def test_diphoton_mass_resolution_and_tails(rng: np.random.Generator) -> None:
    """H -> yy decays (m = 125 GeV, isotropic, pT(H) ~ 30 GeV) through the detector with
    pile-up: sigma68 of m_yy in 1.5-2.4 GeV and 1-8 % of events outside 120-130 GeV."""
    n = 1500
    m = C.HIGGS_MASS_GEV
    cos_t = rng.uniform(-1, 1, n)
    ph = rng.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    k = np.stack([sin_t * np.cos(ph), sin_t * np.sin(ph), cos_t], 1) * m / 2
    # boost along x (pT of the Higgs boson ~ exponential, 30 GeV) then along z
    pt_h = rng.exponential(30.0, n)
    betas = ((1, pt_h / np.hypot(m, pt_h)), (3, rng.uniform(-0.5, 0.5, n)))
    rows = []
    for s in (1, -1):
        p4 = np.concatenate([np.full((n, 1), m / 2), s * k], axis=1)
        for axis, b in betas:
            g = 1 / np.sqrt(1 - b**2)
            e0, pa = p4[:, 0].copy(), p4[:, axis].copy()
            p4[:, 0], p4[:, axis] = g * (e0 + b * pa), g * (pa + b * e0)
        pt = np.hypot(p4[:, 1], p4[:, 2])
        eta = np.arcsinh(p4[:, 3] / pt)
        phi = np.arctan2(p4[:, 2], p4[:, 1])
        rows += [(i, 22, pt[i], eta[i], phi[i]) for i in range(n)]
    fs = _particles(rows)
    keep = np.abs(np.arcsinh(fs["pz"] / np.hypot(fs["px"], fs["py"]))) < 2.37
    both = np.bincount(fs["event"][keep], minlength=n) == 2
    det = D.simulate_particles(n, fs, rng, truth=_empty_truth(n))
    c = R.em_candidates(det, rng, 25.0)
    c = c.select(both[c.event] & (np.abs(c.eta) < 2.37))
    two = np.flatnonzero(np.bincount(c.event, minlength=n) == 2)
    o = np.searchsorted(c.event, two)
    i, j = o, o + 1
    mgg = np.sqrt(
        2 * c.et[i] * c.et[j] * (np.cosh(c.eta[i] - c.eta[j]) - np.cos(c.phi[i] - c.phi[j]))
    )
    assert len(mgg) > 0.8 * both.sum()
    assert 1.5 < P.sigma68(mgg) < 2.4
    lo, hi = P.fraction_outside(mgg, 120.0, 130.0)
    assert 0.01 < lo + hi < 0.08


def test_no_photon_is_also_a_jet(rng: np.random.Generator) -> None:
    """Jets are overlap-removed against every stored photon (tight or not): no event keeps a
    photon and a jet at dR < 0.2 with pT ratio ~1. Half the photons carry a neutral hadron in
    their cluster, so they fail the tight Rhad cut; the hadronic jet elsewhere survives."""
    pytest.importorskip("fastjet")
    import awkward as ak

    from hepsift.generate.scenarios import build_chunk, samples_for

    n = 60
    rows = []
    for i in range(n):
        phi = rng.uniform(-np.pi, np.pi)
        rows += [(i, 22, 45.0, 0.4, phi), (i, 22, 35.0, -0.7, phi + 2.0)]
        if i % 2:
            rows.append((i, 130, 4.0, 0.42, phi + 0.03))  # hadronic leakage: not tight
        rows += [(i, 211 * (-1) ** k, 10.0, 1.5 + 0.02 * k, phi - 2.0 + 0.03 * k) for k in range(6)]
    det = D.simulate_particles(n, _particles(rows), rng, truth=_empty_truth(n))
    ggf = next(s for s in samples_for("higgs-diphoton") if s.name == "ggF")
    rec, accepted = build_chunk("higgs-diphoton", ggf, det, rng)
    assert accepted.mean() > 0.9
    ph, jet = rec["photon"], rec["jet"]
    assert 0.2 < ak.mean(ph.isTightID) < 0.9  # both tight and non-tight photons are stored
    a, b = ak.unzip(ak.cartesian([ph, jet]))
    dr = np.hypot(a.eta - b.eta, (a.phi - b.phi + np.pi) % (2 * np.pi) - np.pi)
    assert not ak.any(dr < 0.2)
    assert ak.mean(ak.num(jet) >= 1) > 0.9  # the pion jet is kept
    ct = ak.flatten(ph.convType)
    assert str(ak.type(ct).content) == "int32" and ak.all((ct >= 0) & (ct <= 5))


def test_muon_etcone20_sign_like_atlas_data(rng: np.random.Generator, atlas_file: Path) -> None:
    """With pile-up and the rho x area subtraction, about half of isolated leptons have
    etcone20 < 0, as in ATLAS 2016 data (the 4-lepton Open Data file: ~48 %)."""
    import awkward as ak
    import uproot

    with uproot.open(atlas_file) as f:
        t = f["mini"].arrays(["lep_etcone20", "lep_ptcone30", "lep_pt"])
    pt = ak.to_numpy(ak.flatten(t.lep_pt))
    et20 = ak.to_numpy(ak.flatten(t.lep_etcone20))
    iso = (ak.to_numpy(ak.flatten(t.lep_ptcone30)) < 0.15 * pt) & (et20 < 0.15 * pt)
    real = float(np.mean(et20[iso] < 0))
    assert 0.3 < real < 0.7
    n = 400
    rows = [(i, 13, 30.0, rng.uniform(-2.4, 2.4), rng.uniform(-np.pi, np.pi)) for i in range(n)]
    det = D.simulate_particles(n, _particles(rows), rng, truth=_empty_truth(n))
    ours, _ = R.muon_isolation(det)
    assert abs(float(np.mean(ours < 0)) - real) < 0.15
