"""``hepsift run`` end to end on tiny data: the run folder, metrics.json against scikit-learn on
the reloaded models, ONNX parity, multi-class, interruption, and every shipped config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from hepsift.cli import main
from hepsift.config import list_configs, load_config
from hepsift.dataset import Dataset
from hepsift.prepare import PreparedData, finalise, prepare_data
from hepsift.run import run


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepsift.toydata import write_toy_gamgam

    d = tmp_path_factory.mktemp("toy")
    write_toy_gamgam(d / "sig.root", 1500, seed=1, signal_fraction=1.0, xsection_pb=0.1)
    write_toy_gamgam(
        d / "bkg.root", 12000, seed=2, signal_fraction=0.0, channel_number=900001, xsection_pb=50.0
    )
    return d


def _toy_config(d: Path) -> dict:
    return {
        "name": "toy",
        "seed": 5,
        "data": {
            "samples": [
                {"name": "ggF", "paths": [str(d / "sig.root")]},
                {"name": "continuum", "paths": [str(d / "bkg.root")]},
            ]
        },
        "selection": {"preset": "hgamgam"},
        "features": ["ptom_gg_0", "ptom_gg_1", "photon_eta_0", "ptt_gg", "jet_n", "met_et"],
        "task": {"type": "binary", "classes": {"background": ["continuum"], "signal": ["ggF"]}},
        "models": [
            {"name": "logistic", "family": "logistic"},
            {"name": "bdt", "family": "bdt", "params": {"n_estimators": 20, "max_depth": 3}},
            {"name": "mlp", "family": "mlp", "params": {"epochs": 2, "hidden": [8]}},
        ],
        "evaluation": {"bootstrap": 40, "importance_repeats": 1},
        "output": {"formats": ["png", "pdf"]},
    }


@pytest.fixture(scope="module")
def toy_run(toy_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return run(_toy_config(toy_files), out=out)


@pytest.mark.slow
def test_run_folder_layout(toy_run):
    path = toy_run.path
    assert path.name.startswith("toy-") and (path / "DONE").is_file()
    assert not any(p.name.endswith(".partial") for p in path.parent.iterdir())
    for name in ("config.yaml", "provenance.json", "metrics.json", "report.html"):
        assert (path / name).is_file(), name
    for model in ("logistic", "bdt", "mlp"):
        assert (path / "models" / model / "model.json").is_file()
        # the scaler is inside every saved model (model.json and its ONNX graph), never beside it
        assert not (path / "models" / model / "scaler.json").exists()
        assert (path / "models" / f"{model}.onnx").is_file()
        assert (path / "plots" / f"{model}_scores.png").is_file()
        assert (path / "plots" / f"{model}_scores.pdf").is_file()
        assert (path / "plots" / f"{model}_confusion.png").is_file()
    assert "scaler" in (path / "models" / "mlp" / "model.json").read_text()
    assert (path / "plots" / "roc_rejection.pdf").is_file()
    assert (path / "plots" / "bdt_gain.png").is_file()
    resolved = yaml.safe_load((path / "config.yaml").read_text())
    assert load_config(resolved).resolved() == resolved
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["seeds"]["run"] == 5 and prov["packages"]["xgboost"]
    assert any(k.endswith("sig.root") for k in prov["data"])


@pytest.mark.slow
def test_metrics_agree_with_sklearn_on_reloaded_models(toy_run):
    from hepsift.models import load

    doc = json.loads((toy_run.path / "metrics.json").read_text())
    assert doc["classes"] == ["background", "signal"]
    assert set(doc["ranking"]) == {"logistic", "bdt", "mlp"}
    assert doc["best_model"] == doc["ranking"][0]
    # rebuild the test split exactly as the run did
    cfg = toy_run.config
    ds = prepare_data(cfg).dataset
    _train, _valid, test = ds.split(cfg.split.fractions, by=cfg.split.by, seed=cfg.seed)
    assert doc["n_test"] == len(test)
    for name in ("logistic", "bdt", "mlp"):
        m = doc["models"][name]
        for key in ("auc", "auc_ci68", "accuracy", "precision", "recall", "f1", "best_cut"):
            assert key in m, key
        assert set(m["background_rejection"]) == {"0.5", "0.8", "0.9"}
        assert set(m["ks_pvalue"]) == {"background", "signal"}
        assert m["auc_ci68"][0] <= m["auc"] <= m["auc_ci68"][1]
        folder = toy_run.path / "models" / name
        model = load(folder)
        X = test.X  # raw features: the saved models hold their scaling
        score = model.predict_proba(X)[:, 1]
        assert m["auc"] == pytest.approx(
            roc_auc_score(test.y, score, sample_weight=test.weight), abs=1e-6
        )
        pred = (score >= m["threshold"]).astype(int)
        acc = np.sum(test.weight * (pred == test.y)) / np.sum(test.weight)
        assert m["accuracy"] == pytest.approx(acc, abs=1e-6)
        # ONNX export gives the same probabilities
        import onnxruntime as ort

        sess = ort.InferenceSession(str(toy_run.path / "models" / f"{name}.onnx"))
        outputs = sess.run(None, {sess.get_inputs()[0].name: X})
        proba = next(o for o in outputs if np.ndim(o) == 2)
        np.testing.assert_allclose(proba[:, 1], score, atol=1e-4)
    y = doc["yields_test"]
    assert set(y) == {"background", "signal"} and y["signal"]["yield"] > 0
    assert set(doc["yields"]) == {"background", "signal"}


@pytest.mark.slow
def test_nand_run_from_the_cli(tmp_path, capsys):
    code = main(["run", "nand", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Which model is best?" in out and "report:" in out
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("nand-")]
    doc = json.loads((folder / "metrics.json").read_text())
    m = doc["models"]["logistic"]
    assert m["accuracy"] == 1.0 and m["auc"] == 1.0  # NAND is linearly separable
    assert doc["yields_test"]["true"]["events"] == 3


def test_interrupted_run_leaves_no_complete_folder(tmp_path, monkeypatch):
    import hepsift.report.build as build

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_report", boom)
    with pytest.raises(KeyboardInterrupt):
        run("nand", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_multiclass_run_on_prepared_data(tmp_path, rng):
    n = 1200
    sample = rng.integers(0, 4, n)  # four samples mapped to three classes
    centre = np.array([0.0, 0.0, 2.0, 4.0])[sample]
    X = np.column_stack([rng.normal(centre, 1.0), rng.normal(0, 1, n)]).astype(np.float32)
    ds = Dataset(
        X=X,
        y=np.zeros(n, dtype=np.int64),
        weight=rng.uniform(0.5, 1.5, n) * np.where(sample == 3, 0.05, 1.0),
        feature_names=("a", "b"),
        class_names=("all",),
        sample=sample,
        sample_names=("qcd_a", "qcd_b", "vbf", "tth"),
    )
    cfg = {
        "name": "modes",
        "data": {"inline": {"feature_names": ["a", "b"], "X": [[0, 0]], "y": [0]}},
        "features": ["a", "b"],
        "task": {"type": "multiclass", "classes": {"qcd": ["qcd"], "vbf": ["vbf"], "tth": ["tth"]}},
        "models": [{"name": "logistic", "family": "logistic"}],
        "evaluation": {"bootstrap": 20, "importance": False},
        "output": {"formats": ["png"]},
    }
    relabelled = finalise(PreparedData(dataset=ds, source="test"), load_config(cfg)).dataset
    assert relabelled.class_names == ("qcd", "vbf", "tth")
    assert np.array_equal(relabelled.y, np.array([0, 0, 1, 2])[sample])
    result = run(cfg, out=tmp_path, prepared=PreparedData(dataset=ds, source="test"))
    doc = result.metrics
    assert doc["task"] == "multiclass" and doc["classes"] == ["qcd", "vbf", "tth"]
    m = doc["models"]["logistic"]
    assert set(m["auc_per_class"]) == {"qcd", "vbf", "tth"}
    assert np.array(m["confusion_matrix"]["counts"]).sum() == doc["n_test"]
    assert (result.path / "plots" / "logistic_confusion.png").is_file()
    assert "expected yields" in result.report.read_text()
    assert m["best_cut"] is None


# -- every shipped config, end to end on tiny data (salt's convention) -----------------------

TINY = {
    "higgs-diphoton": [
        "data.events=100",
        "data.events_per_sample={}",
        "models[1].params.n_estimators=10",
        "models[2].params.epochs=2",
    ],
    "higgs-modes": [
        "data.events=200",
        # the percentile interval of 10 resamples can miss the AUC of ~40 events per class
        "evaluation.bootstrap=40",
        "models[1].params.n_estimators=10",
        "models[2].params.n_subsets=2",
        "models[3].params.epochs=2",
        "models[4].params.epochs=15",  # the set models: a few steps per epoch here
        "models[5].params.epochs=15",
    ],
    # one batch per epoch on this sample: enough epochs for the networks to learn something
    # all candidates: 100 dijet events leave ~2 jets after the config's loose preselection
    "photon-id": [
        "data.events=100",
        "data.events_per_sample={}",
        "selection.cuts=[]",
        "models[1].params.epochs=40",
        "models[2].params.epochs=40",
    ],
    "resonance-pnn": [
        "data.events=400",  # 100 leave ~30 weighted test events: AUCs of pure noise
        "study.masses_gev=[500, 1000]",
        "study.params.epochs=2",
        "models[0].params.n_estimators=10",
        "models[1].params.epochs=2",
    ],
    "nand": [],
    # 5 % injection: 1 % of the tiny sample is no signal event at all
    "anomaly-hgg": [
        "data.events=300",
        "evaluation.bootstrap=40",  # 10 resamples: the interval can miss the AUC
        "data.events_per_sample={}",
        "unsupervised.injection=0.05",
        "unsupervised.detectors.autoencoder.epochs=2",
        "models[0].params.n_estimators=20",
        "output.onnx=true",
    ],
    "explore-photon-id": ["data.events=200", "output.onnx=true"],
    "multijet-images": [
        "data.events=100",
        "models[0].params.epochs=2",
        "models[1].params.n_estimators=20",
        "models[2].params.epochs=5",
    ],
}

#: shipped configs whose end-to-end test lives elsewhere (a regression task has no AUC)
SMOKED_ELSEWHERE = {"photon-calibration": "tests/test_studies_calibration.py"}


def test_every_shipped_config_is_smoke_tested():
    assert set(list_configs()) == set(TINY) | set(SMOKED_ELSEWHERE)


#: the least AUC the best model of each shipped config reaches on its tiny sample (every model
#: must also beat chance): a run whose models learned nothing fails
MIN_AUC = {
    "higgs-diphoton": 0.6,
    "higgs-modes": 0.6,
    "photon-id": 0.6,
    # the mass column no longer leaks the label (HEPMASS policy): 124 test events give
    # 0.60 [0.55, 0.66] for the tiny BDT
    "resonance-pnn": 0.55,
    "nand": 0.99,
    "anomaly-hgg": 0.6,
    "explore-photon-id": 0.6,
    "multijet-images": 0.6,
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generator cache for all smoke tests (higgs-diphoton and higgs-modes share samples)."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_shipped_config_smoke(name, tmp_path, shared_cache):
    cfg = load_config(name)
    overrides = [  # a config's own TINY entries come last and win
        f"data.cache={shared_cache}",
        "evaluation.bootstrap=10",
        "output.formats=[png]",
        *TINY[name],
    ]
    result = run(name, overrides=overrides, out=tmp_path / "runs")
    assert (result.path / "DONE").is_file()
    assert (result.path / "report.html").is_file()
    assert set(result.metrics["models"]) == {m.name for m in cfg.models}
    doc = result.metrics
    assert doc["n_test"] > 0
    for name_, m in doc["models"].items():
        # every model learns something real on the tiny sample: clearly better than chance,
        # with an honest interval around it, and every artefact of the model is written
        assert 0.5 < m["auc"] <= 1.0, (name_, m["auc"])
        low, high = m["auc_ci68"]
        assert low - 1e-9 <= m["auc"] <= high + 1e-9 and high - low < 0.5
        assert (result.path / "models" / name_ / "model.json").is_file()
        assert (result.path / "models" / f"{name_}.onnx").is_file()
        assert name_ in result.report.read_text()
        cut = m.get("best_cut")
        if cut is not None:  # binary tasks: the cut is chosen on validation, Z quoted on test
            has_validation = len(cfg.split.fractions) == 3
            assert cut["chosen_on"] == ("validation" if has_validation else "test")
            if cut["cut"] is not None and math.isfinite(cut["cut"]):
                # >= 10 background events where the cut is chosen (validation); the test
                # split holds a statistical fluctuation of that
                assert math.isfinite(cut["z"]) and cut["background_events"] >= 5
    assert max(m["auc"] for m in doc["models"].values()) >= MIN_AUC[name]
    if cfg.study is not None:
        study = result.metrics["study"]
        assert study.get("status") != "skipped", study
        assert "dedicated" in study and "pnn" in study
        assert "pnn_auc_vs_mass" in result.report.read_text()
    if cfg.unsupervised is not None:
        assert result.metrics["unsupervised"], "the unsupervised section produced nothing"


# -- honest report text and low statistics (issue 12) ---------------------------------------


def test_weighted_run_quotes_its_luminosity_and_scaling(toy_run):
    """MC weights: Z_A at the config's luminosity, standard scaling named as such."""
    doc = toy_run.metrics
    assert doc["unit_weights"] is False
    # the toy's diphoton selection keeps few continuum events: the flag follows the counts
    few = {c: v["events"] for c, v in doc["yields_test"].items() if v["events"] < 50}
    assert few, "the toy run is expected to have a class below 50 test events"
    assert doc["low_statistics"]["flag"] is True
    assert doc["low_statistics"]["classes"] == few
    html = toy_run.report.read_text()
    assert "at 36.1 fb^-1" in html
    assert "Standard scaling, fit on the training split only" in html
    assert 'id="warning-1">Low statistics' in html


def test_low_statistics_are_flagged_in_metrics() -> None:
    """Issue 12: 1 signal event of 40 reported an AUC interval and a Z without a warning."""
    from hepsift.evaluate import MIN_TEST_EVENTS, metrics_document

    y = np.zeros(40, dtype=np.int64)
    y[0] = 1
    test = Dataset(
        X=np.zeros((40, 1), dtype=np.float32),
        y=y,
        weight=np.ones(40),
        feature_names=("a",),
        class_names=("background", "signal"),
    )
    doc = metrics_document([], test=test)
    low = doc["low_statistics"]
    assert MIN_TEST_EVENTS == 50
    assert low["flag"] is True
    assert low["classes"] == {"background": 39, "signal": 1}
    assert "signal (1 event)" in low["message"] and "\n" not in low["message"]
    assert doc["unit_weights"] is True


def test_report_notes_follow_the_config() -> None:
    """Issue 12: the report claimed scaling with `scaling: none` and a luminosity for unit
    weights."""
    from types import SimpleNamespace

    from hepsift.report.build import scaling_note, significance_note

    cfg = load_config("nand")
    logistic = SimpleNamespace(name="lin", family="logistic")
    net = SimpleNamespace(name="net", family="mlp")
    assert scaling_note(cfg, [logistic]) == (
        "No scaling (scaling: none): every model takes the raw features."
    )
    assert "except inside net" in scaling_note(cfg, [logistic, net])
    standard = load_config("nand", overrides=["scaling=standard"])
    assert scaling_note(standard, [logistic]).startswith("Standard scaling, fit on the training")
    unit = significance_note(cfg, unit=True, validation=False)
    assert "fb^-1" not in unit and "unit" in unit and "test split itself" in unit
    assert "at 36.1 fb^-1" in significance_note(cfg, unit=False, validation=True)


@pytest.mark.slow
def test_unweighted_low_statistics_run_says_so(tmp_path, capsys):
    """End to end: NAND (4 unit-weight events, scaling none) warns on the console and in the
    HTML, claims no luminosity and no scaling."""
    code = main(["run", "nand", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "warning: Low statistics" in " ".join(out.split())
    assert "unit weights" in out
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("nand-")]
    doc = json.loads((folder / "metrics.json").read_text())
    assert doc["low_statistics"]["classes"] == {"false": 1, "true": 3}
    html = (folder / "report.html").read_text()
    assert 'id="warning-1">Low statistics' in html
    assert "fb^-1" not in html
    assert "No scaling (scaling: none)" in html
    assert "Scaling is fit" not in html


def test_missing_keep_gives_the_bdt_nan(toy_files, tmp_path):
    """Issue 12: with `missing: keep` absent objects reach the BDT as NaN (XGBoost's missing
    values) instead of 0, unscaled; with `impute: median` the other families get the training
    split's median, inside the saved model; saved models and ONNX graphs agree on NaN."""
    from hepsift.export import check_parity
    from hepsift.models import load

    cfg = _toy_config(toy_files)
    cfg.update(
        missing="keep",
        impute="median",
        features=["ptom_gg_0", "ptom_gg_1", "deta_jj", "m_jj"],
        models=[
            {"name": "bdt", "family": "bdt", "params": {"n_estimators": 10, "max_depth": 3}},
            {"name": "logistic", "family": "logistic"},
        ],
        evaluation={"bootstrap": 5, "importance": False},
        output={"formats": ["png"]},
    )
    prepared = prepare_data(load_config(cfg), log=lambda m: None, scheduler=None)
    X = prepared.dataset.X
    assert np.isnan(X[:, 2]).any() and not np.isnan(X[:, 0]).any()  # events with < 2 jets
    result = run(cfg, out=tmp_path, prepared=prepared)
    bdt = load(result.path / "models" / "bdt")
    assert bdt.family == "bdt"  # not wrapped in a scaler: the scaler refuses NaN
    assert check_parity(bdt, result.path / "models" / "bdt.onnx", X[:500]) <= 1e-5
    lin = load(result.path / "models" / "logistic")
    assert lin.family == "scaled" and lin.impute == "median"
    finite = X[:, 2][np.isfinite(X[:, 2])]
    assert 0 < lin.impute_values_[2] < finite.max()  # a median of the training split's values
    assert check_parity(lin, result.path / "models" / "logistic.onnx", X[:500]) <= 1e-5
    for name in ("bdt", "logistic"):
        assert math.isfinite(result.metrics["models"][name]["auc"])
