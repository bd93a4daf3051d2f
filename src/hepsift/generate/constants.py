"""Every physics number of the generated samples, in one place, with units in the names.

Detector model in the spirit of the Delphes ATLAS card (see ``SCENARIOS.md``). Energies and
momenta are in GeV, angles in radians, cell sizes in units of (pseudo)rapidity and azimuth.
"""

from __future__ import annotations

import math

#: Proton-proton centre-of-mass energy (GeV).
ECM_GEV = 13000.0
#: Pythia's ``info.sigmaGen()`` is in mb; 1 mb = 1e9 pb.
MB_TO_PB = 1.0e9
#: ATLAS run number of MC16a used in the ntuples.
RUN_NUMBER = 284500

# ---------------------------------------------------------------- tracker
TRACK_ETA_MAX = 2.5
TRACK_PT_MIN_GEV = 0.5
TRACK_EFFICIENCY = 0.95
#: sigma(pT)/pT = a * pT[GeV] (+) b
TRACK_RES_PT_COEF_PER_GEV = 0.0005
TRACK_RES_CONST = 0.01

# ---------------------------------------------------------------- ECAL
ECAL_ETA_MAX = 3.2
ECAL_CELL_ETA = 0.025
ECAL_N_PHI = 256  # cell size 2 pi / 256 = 0.0245 rad
ECAL_N_ETA = round(2 * ECAL_ETA_MAX / ECAL_CELL_ETA)  # 256
#: sigma(E)/E = a/sqrt(E) (+) b; the noise term comes from the per-cell noise (and pile-up) of
#: the cluster cells. The constant term is the effective in-situ value (1.0 %, ATLAS Run 2 incl.
#: non-uniformity and material), which replaces the 0.7 % design value once in SCENARIOS.md.
ECAL_RES_STOCH_SQRT_GEV = 0.10
ECAL_RES_CONST = 0.010
#: Lateral EM shower profile: core + tail Gaussians (sigma in eta/phi units), normalised on a
#: 5 x 5 cell kernel around the impact cell.
EM_CORE_SIGMA = 0.0065
EM_TAIL_SIGMA = 0.02
EM_TAIL_FRACTION = 0.15
#: Shower-to-shower fluctuation of the lateral width: sigmas scaled by exp(N(0, 1) x this).
EM_WIDTH_SPREAD = 0.20
#: Deposits below this energy (GeV) go to a single cell (their spread is irrelevant for the
#: 1 GeV cluster seeds) which keeps the number of cells and towers small.
EM_SPREAD_E_MIN_GEV = 1.0
#: Residual z error (mm) of the primary vertex used for photon directions (photon pointing +
#: tracks) and the ECAL geometry it acts through (barrel radius, end-cap |z|, mm).
VERTEX_Z_RESOLUTION_MM = 15.0
ECAL_BARREL_RADIUS_MM = 1500.0
ECAL_ENDCAP_Z_MM = 3700.0
#: Width of the electromagnetic part of a hadron shower in ECAL.
HAD_EM_SIGMA = 0.03
#: Fraction of a hadron's energy left in ECAL ~ Beta(a, b) (mean a / (a + b) = 0.3).
HAD_EM_FRACTION_BETA_A = 1.5
HAD_EM_FRACTION_BETA_B = 3.5
#: Energy of a minimum-ionising muon in ECAL / HCAL (GeV).
MUON_MIP_ECAL_GEV = 0.3
MUON_MIP_HCAL_GEV = 1.5

#: Photon conversions in the material before the ECAL: probability
#: CONV_PROB_CENTRAL + CONV_PROB_SLOPE * (|eta| / CONV_ETA_REF)^2 (at most CONV_PROB_MAX), about
#: 20 % at eta = 0 rising to ~50 % at |eta| = 2.4 (ATLAS: 20-60 %, ~30 % averaged over H->yy).
CONV_PROB_CENTRAL = 0.20
CONV_PROB_SLOPE = 0.30
CONV_ETA_REF = 2.4
CONV_PROB_MAX = 0.6
#: ATLAS convType of converted photons 1..5 (1 one Si track, 2 one TRT-only track, 3 two Si,
#: 4 two TRT-only, 5 one Si + one TRT) and their relative frequencies.
CONV_TYPE_FRACTIONS = (0.25, 0.10, 0.35, 0.10, 0.20)
#: Converted photons: stochastic term scaled by this factor, and an upstream energy loss
#: (fraction of E, exponential with this mean) of which the calibration restores the median.
CONV_STOCH_FACTOR = 1.4
CONV_LOSS_MEAN = 0.02
#: Non-Gaussian response tail of every EM deposit (cracks, dead material, non-uniformity): a
#: fraction EM_TAIL_RESPONSE_FRACTION gets a resolution EM_TAIL_RESPONSE_FACTOR times wider.
EM_TAIL_RESPONSE_FRACTION = 0.08
EM_TAIL_RESPONSE_FACTOR = 3.5
#: Electronic noise per calorimeter cell (energy, GeV; E_T = E / cosh(eta of the cell)). It is
#: a fixed function of (event, cell) (counter-based), so every read of a cell sees the same value.
ECAL_CELL_NOISE_GEV = 0.04
HCAL_CELL_NOISE_GEV = 0.05

# ---------------------------------------------------------------- pile-up
#: Mean number of interactions per bunch crossing (2016: <mu> = 24.9); Poisson per event.
PILEUP_MU_MEAN = 25.0
#: Visible pile-up E_T per unit eta-phi area per interaction (GeV), spread as soft deposits
#: (exponential E_T with mean PILEUP_DEPOSIT_ET_MEAN_GEV) uniform in |eta| < HCAL_ETA_MAX.
PILEUP_ET_DENSITY_PER_INTERACTION_GEV = 0.2
PILEUP_DEPOSIT_ET_MEAN_GEV = 0.6
#: Fraction of pile-up deposits that are electromagnetic (ECAL), the rest hadronic (HCAL).
PILEUP_EM_FRACTION = 0.5
#: Pile-up tracks above TRACK_PT_MIN_GEV per unit eta-phi area per interaction (dN_ch/deta
#: ~ 2.5 for pT > 0.5 GeV at 13 TeV), their pT above the threshold (exponential mean, GeV), and
#: the fraction passing the z0 cut of the hard-scatter vertex (pile-up vertices spread over
#: sigma_z ~ 35-45 mm; |z0 sin theta| < 3 mm keeps a few per cent of them).
PILEUP_TRACK_DENSITY = 0.4
PILEUP_TRACK_PT_MEAN_GEV = 0.4
PILEUP_TRACK_LEAK_PROBABILITY = 0.07
#: Median energy density rho (GeV per unit area) from towers in |eta| < RHO_ETA_MAX summed in
#: patches of RHO_PATCH_TOWERS x RHO_PATCH_TOWERS towers (ATLAS: median of kt jets).
RHO_ETA_MAX = 2.0
RHO_PATCH_TOWERS = 8

# ---------------------------------------------------------------- HCAL
HCAL_ETA_MAX = 4.9
HCAL_CELL_ETA = 0.1
HCAL_N_PHI = 64  # cell size 2 pi / 64 = 0.098 rad
HCAL_N_ETA = round(2 * HCAL_ETA_MAX / HCAL_CELL_ETA)  # 98
HCAL_RES_STOCH_SQRT_GEV = 0.50
HCAL_RES_CONST = 0.03

# ---------------------------------------------------------------- muon system
MUON_ETA_MAX = 2.7
MUON_EFFICIENCY = 0.95
MUON_RES_PT = 0.02
MUON_PT_MIN_GEV = 5.0

# ---------------------------------------------------------------- EM clusters, photons, electrons
CLUSTER_SEED_ET_MIN_GEV = 1.0
#: Candidates (photons, electrons) are built for clusters above this E_T (GeV).
CANDIDATE_ET_MIN_GEV = 10.0
#: Cluster = 5 x 5 cells (eta x phi) around the seed; weta2 in 3 x 5; position from 3 x 3.
CLUSTER_HALF_ETA_CELLS = 2
CLUSTER_HALF_PHI_CELLS = 2
TRACK_MATCH_DR = 0.05
TRACK_MATCH_PT_MIN_GEV = 1.0
#: Hadronic leakage cone behind the cluster.
RHAD_CONE_DR = 0.12
ISO_CONE_SMALL_DR = 0.2
ISO_CONE_LARGE_DR = 0.3
#: Photon tight identification (cuts on shower shapes; isolation is separate, as in ATLAS).
PHOTON_TIGHT_RHAD_MAX = 0.022
PHOTON_TIGHT_WETA2_MAX = 0.0102
#: Electron identification and E/p window.
ELECTRON_RHAD_MAX = 0.05
ELECTRON_WETA2_MAX = 0.013
ELECTRON_EOP_MIN = 0.7
ELECTRON_EOP_MAX = 1.6
ELECTRON_TIGHT_RHAD_MAX = 0.02
#: Prompt-photon truth matching radius.
TRUTH_MATCH_DR = 0.1
#: Acceptance of stored leptons (GeV) and |eta|.
LEPTON_PT_MIN_GEV = 10.0
ELECTRON_ETA_MAX = 2.47

# ---------------------------------------------------------------- jets and b-tagging
JET_R = 0.4
#: Towers below this E_T (GeV) are not clustered: a noise threshold like the 2016 topo-cluster
#: seeds, where pile-up noise at <mu> = 25 is a few hundred MeV. 0.4 rather than 0.1 halves the
#: towers FastJet clusters once pile-up deposits are on (ggF: 6.2 -> 2.3 ms/event for the jets)
#: and changes the number of jets above 25 GeV by about 2 %.
JET_TOWER_ET_MIN_GEV = 0.4
JET_PT_MIN_GEV = 25.0
JET_ETA_MAX = 4.5
JET_OVERLAP_DR = 0.4
#: Jets within this distance of an electron are removed (ATLAS overlap removal).
JET_ELECTRON_OVERLAP_DR = 0.2
BTAG_ETA_MAX = 2.5
BTAG_HADRON_DR = 0.3
BTAG_HADRON_PT_MIN_GEV = 5.0
#: Tagger latent z ~ N(mu_flavour, 1); tagged at the 77 % WP when z > 0, so
#: P(b) = Phi(0.739) = 0.77, P(c) = Phi(-0.842) = 0.20, P(light) = Phi(-2.326) = 0.01.
BTAG_MU_B = 0.739
BTAG_MU_C = -0.842
BTAG_MU_LIGHT = -2.326
#: MV2c10 = tanh(BTAG_SLOPE * z + atanh(WP)) puts the 77 % WP at the ATLAS cut value.
BTAG_MV2C10_WP77 = 0.6459
BTAG_SLOPE = 0.8

# ---------------------------------------------------------------- event images
IMAGE_N_PIX = 50
IMAGE_ETA_MAX = 2.5

# ---------------------------------------------------------------- scenario selections
#: higgs-diphoton: stored photon candidates and the loose preselection written to the ntuple.
NTUPLE_PHOTON_ET_MIN_GEV = 20.0
NTUPLE_MIN_PHOTONS = 2
#: Emulated diphoton trigger (g35_loose_g25_loose): E_T thresholds (GeV) and loose Rhad cut.
TRIGGER_PHOTON_ET_GEV = (35.0, 25.0)
TRIGGER_LOOSE_RHAD_MAX = 0.05
HIGGS_MASS_GEV = 125.0
#: Continuum gamma gamma mHat window (GeV): m_gg is invariant under the shower's recoil, so
#: 100-170 holds every event of the 105-160 GeV selection up to the energy resolution.
DIPHOTON_MHAT_MIN_GEV = 100.0
DIPHOTON_MHAT_MAX_GEV = 170.0
#: gamma + jet and jet + jet mHat window (GeV): a jet fakes a photon through a leading
#: pi0/eta carrying a fraction z ~ 0.5-1 of its momentum, so m_gg ~ sqrt(z) mHat.
FAKE_BKG_MHAT_MIN_GEV = 100.0
FAKE_BKG_MHAT_MAX_GEV = 250.0
#: Generator-level filter of the backgrounds (hard process, before the shower): both objects
#: with pT > this x mHat and |eta| below GEN_FILTER_ETA_MAX (selection 2.37). At the hard
#: process both objects have the same pT; the selection asks E_T/m_gg > 0.35 and 0.25, which
#: an event below 0.25 passes only with an ISR recoil of more than about 0.3 mHat across the
#: photons; a jet faking a photon keeps a fraction z < 1 of the parton, and its pT/m_gg is
#: sqrt(z) times the parton's, so the cut is safe for the fakes too.
HIGGS_BKG_PT_OVER_M_MIN = 0.25
GEN_FILTER_ETA_MAX = 2.6
#: Signal filter: both H photons with pT above this (GeV; the selection asks > 31 GeV) and
#: |eta| < GEN_FILTER_ETA_MAX at the hard process.
HIGGS_SIGNAL_PHOTON_PT_MIN_GEV = 20.0
#: gamma + jet / jet + jet hadron-level filter (hepsift.generate.hadron_filter): photon-like
#: candidates around final-state photon seeds (pT > seed min, |eta| < ETA_MAX): EM pT in a core
#: of CORE_DR, EM fraction of the visible core pT above EM_FRACTION_MIN, visible pT in
#: CORE_DR < dR < ISO_DR below ISO_REL_MAX * pT + ISO_ABS_MAX_GEV; events with two candidates
#: above LEAD / SUB pT (GeV) and a leading-pair mass inside MASS_WINDOW (GeV). Each cut is
#: looser than the detector-level selection (E_T 35 / 25 GeV, isolation 0.065 pT, 105-160 GeV).
PHOTONLIKE_SEED_PT_MIN_GEV = 5.0
PHOTONLIKE_ETA_MAX = 2.45
PHOTONLIKE_CORE_DR = 0.1
PHOTONLIKE_ISO_DR = 0.3
PHOTONLIKE_EM_FRACTION_MIN = 0.9
PHOTONLIKE_ISO_REL_MAX = 0.15
PHOTONLIKE_ISO_ABS_MAX_GEV = 2.0
PHOTONLIKE_LEAD_PT_MIN_GEV = 30.0
PHOTONLIKE_SUB_PT_MIN_GEV = 20.0
PHOTONLIKE_MASS_WINDOW_GEV = (90.0, 180.0)
#: Detector passes per filtered gamma + jet / jet + jet event (weight / replicas each): the
#: filter keeps under 1 % of gamma + jet events, so 20 passes cost little beside Pythia.
FAKE_BKG_DETECTOR_REPLICAS = 20
#: photon-id: pTHatMin of the prompt-photon sample and the minimum candidate E_T (GeV).
PHOTONID_PTHAT_MIN_GEV = 25.0
#: photon-id dijets: pTHatMin (GeV) and the power of the pT-hat bias (pT-hat/pTHatMin)^pow of
#: the sampling (Pythia PhaseSpace:bias2Selection); the event weights compensate.
PHOTONID_DIJET_PTHAT_MIN_GEV = 30.0
PHOTONID_DIJET_BIAS_POW = 4.0
PHOTONID_CANDIDATE_ET_MIN_GEV = 10.0
#: photon-id loose preselection (column ``loose`` of the table), in the spirit of the ATLAS
#: loose photon preselection that every stored photon passes (hadronic leakage and a relaxed
#: calorimeter isolation; EPJC 79 (2019) 205): Rhad below PHOTONID_LOOSE_RHAD_MAX and
#: etcone20 below PHOTONID_LOOSE_ETCONE20_REL_MAX x E_T. It keeps about 97 % of prompt
#: photons and 3 % of jet candidates (the hard fakes: a pi0/eta carrying most of the jet).
PHOTONID_LOOSE_RHAD_MAX = 0.05
PHOTONID_LOOSE_ETCONE20_REL_MAX = 0.5
#: resonance-ttbar: lepton + jets selection.
TTBAR_LEPTON_PT_MIN_GEV = 25.0
TTBAR_MIN_JETS = 4
TTBAR_MIN_BTAGS = 1
#: Lepton track isolation for the ttbar selection: ptcone30 / pT below this.
LEPTON_ISO_PTCONE30_REL_MAX = 0.15
DEFAULT_ZPRIME_MASSES_GEV = (500.0, 750.0, 1000.0, 1250.0, 1500.0)
ZPRIME_MASS_MIN_GEV = 400.0
ZPRIME_MASS_MAX_GEV = 6000.0
#: Z' line shape window as a fraction of the pole mass (32:mMin / 32:mMax).
ZPRIME_WINDOW_FRACTION = 0.5
#: SM ttbar mHat slices (GeV); the last one is open.
TTBAR_MHAT_SLICES_GEV = ((0.0, 700.0), (700.0, 1100.0), (1100.0, -1.0))
W_MASS_GEV = 80.4
TOP_MASS_GEV = 172.5

TWO_PI = 2.0 * math.pi
