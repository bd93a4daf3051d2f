"""hepsift.apply: a run applied to its own test-split events reproduces its test scores exactly;
the ROOT friend tree; mixed layouts refused; real Open Data files that lack the run's branches
fail with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsift.apply import apply
from hepsift.errors import DataError, HepsiftError

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
FOUR_LEPTON = REALDATA / "atlas-opendata-13tev-data_A.4lep.root"


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepsift.run import run
    from hepsift.toydata import write_toy_gamgam

    d = tmp_path_factory.mktemp("apply")
    write_toy_gamgam(d / "sig.root", 1500, seed=1, signal_fraction=1.0, xsection_pb=0.1)
    write_toy_gamgam(
        d / "bkg.root", 12000, seed=2, signal_fraction=0.0, channel_number=900001, xsection_pb=50.0
    )
    cfg = {
        "name": "apply-toy",
        "seed": 3,
        "data": {
            "samples": [
                {"name": "ggF", "paths": [str(d / "sig.root")]},
                {"name": "continuum", "paths": [str(d / "bkg.root")]},
            ]
        },
        "selection": {"preset": "hgamgam"},
        "features": ["ptom_gg_0", "ptom_gg_1", "photon_eta_0", "ptt_gg", "jet_n", "met_et"],
        "split": {"fractions": [0.6, 0.2, 0.2], "by": "event_number"},
        "task": {"type": "binary", "classes": {"background": ["continuum"], "signal": ["ggF"]}},
        "models": [
            {"name": "logistic", "family": "logistic"},
            {"name": "bdt", "family": "bdt", "params": {"n_estimators": 10, "max_depth": 3}},
        ],
        "evaluation": {"bootstrap": 0, "importance": False},
        "output": {"formats": ["png"]},
        "fit": {"enabled": True, "max_bins": 3},
    }
    return run(cfg, out=d / "runs").path


@pytest.mark.slow
@pytest.mark.parametrize("onnx", [False, True])
def test_apply_reproduces_the_run_test_scores(toy_run: Path, tmp_path: Path, onnx: bool) -> None:
    import pyarrow.parquet as pq

    files = {
        "ggF": toy_run.parent.parent / "sig.root",
        "continuum": toy_run.parent.parent / "bkg.root",
    }
    res = apply(toy_run, list(files.values()), out=tmp_path / "s.parquet", onnx=onnx)
    table = pq.read_table(res.path).to_pydict()
    got = {
        (s, int(e)): (a, b)
        for s, e, a, b in zip(table["sample"], table["eventNumber"], table["score_logistic"],
                              table["score_bdt"], strict=True)
    }  # fmt: skip
    with np.load(toy_run / "fits" / "test.npz", allow_pickle=False) as z:
        names = [str(n) for n in z["sample_names"]]
        stems = {n: files[n].stem for n in names}
        keys = [
            (stems[names[i]], int(e)) for i, e in zip(z["sample"], z["event_number"], strict=True)
        ]
        ref_lr, ref_bdt = z["score__logistic"], z["score__bdt"]
    assert len(keys) > 100 and all(k in got for k in keys)
    lr = np.array([got[k][0] for k in keys])
    bdt = np.array([got[k][1] for k in keys])
    if onnx:  # float32 graph vs the Python model: the parity the export check guarantees
        np.testing.assert_allclose(lr, ref_lr, atol=1e-5)
        np.testing.assert_allclose(bdt, ref_bdt, atol=1e-5)
    else:
        np.testing.assert_array_equal(lr, ref_lr)
        np.testing.assert_array_equal(bdt, ref_bdt)


@pytest.mark.slow
def test_apply_root_friend_tree(toy_run: Path, tmp_path: Path) -> None:
    import uproot

    sig = toy_run.parent.parent / "sig.root"
    res = apply(toy_run, [sig], out=tmp_path / "friend.root", format="root", models=["bdt"])
    with uproot.open(res.path) as f:
        tree = f["hepsift_scores"]
        assert set(tree.keys()) == {"eventNumber", "score_bdt"}
        assert tree.num_entries == res.rows > 0


@pytest.mark.slow
def test_apply_refuses_mixed_layouts_and_names_missing_branches(
    toy_run: Path, tmp_path: Path
) -> None:
    if not FOUR_LEPTON.is_file():
        pytest.skip(f"{FOUR_LEPTON} not present")
    sig = toy_run.parent.parent / "sig.root"
    with pytest.raises(DataError, match="different layouts"):
        apply(toy_run, [sig, FOUR_LEPTON], out=tmp_path / "x.parquet")
    # the ATLAS 4-lepton data file carries the photon branches, all empty: the diphoton
    # selection keeps none of its events; without the selection every event is scored, the
    # absent photons at the fill value, energies converted from MeV
    none = apply(toy_run, [FOUR_LEPTON], out=tmp_path / "none.parquet")
    assert none.rows == 0
    res = apply(toy_run, [FOUR_LEPTON], out=tmp_path / "all.parquet", selection=False)
    import pyarrow.parquet as pq
    import uproot

    table = pq.read_table(res.path).to_pydict()
    with uproot.open(FOUR_LEPTON) as f:
        raw = f["mini"].arrays(["eventNumber", "met_et"], library="np")
    assert res.rows == len(raw["eventNumber"]) == 39
    np.testing.assert_array_equal(table["eventNumber"], raw["eventNumber"])
    np.testing.assert_allclose(table["met_et"], raw["met_et"] / 1000.0, rtol=1e-6)
    assert np.all(np.asarray(table["ptom_gg_0"]) == 0.0)  # no photon: the fill value
    assert np.all(np.isfinite(table["score_bdt"]))


@pytest.mark.slow
def test_apply_names_a_missing_branch(toy_run: Path, tmp_path: Path) -> None:
    import uproot

    sig = toy_run.parent.parent / "sig.root"
    with uproot.open(sig) as f:
        tree_name = next(k.split(";")[0] for k in f if f[k].classname == "TTree")
        arrays = f[tree_name].arrays()
    fields = {k: arrays[k] for k in arrays.fields if k != "met_et"}
    fields["met_ET"] = arrays["met_et"]
    broken = tmp_path / "no_met.root"
    with uproot.recreate(broken) as out:
        out[tree_name] = fields
    with pytest.raises(HepsiftError) as info:
        apply(toy_run, [broken], out=tmp_path / "x.parquet")
    message = str(info.value)
    assert "\n" not in message and "met_et" in message and "met_ET" in message, message
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.slow
def test_plot_datamc_command(toy_run: Path, tmp_path: Path) -> None:
    from hepsift.cli import main

    files = [toy_run.parent.parent / "sig.root", toy_run.parent.parent / "bkg.root"]
    data = apply(toy_run, files, out=tmp_path / "d.parquet").path
    code = main(["plot", "datamc", str(toy_run), "--data", str(data), "--var", "score_bdt",
                 "--var", "ptt_gg", "--out", str(tmp_path / "figs")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "figs" / "datamc_score_bdt.png").is_file()
    assert (tmp_path / "figs" / "datamc_ptt_gg.png").is_file()
    assert main(["plot", "datamc", str(toy_run), "--data", str(data), "--var", "ptt"]) == 2
