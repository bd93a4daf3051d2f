"""Calibration by regression on generated truth: sigma_68, the study on a known miscalibration,
the ``task: type: regression`` run (folder, metrics, models) and its config checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.config import load_config
from hepsift.errors import ConfigError
from hepsift.models import create, load
from hepsift.run import run
from hepsift.studies.calibration import binned_response, fit_calibration, sigma68


def test_sigma68_is_the_gaussian_sigma_and_the_smallest_interval() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, 200_000)
    assert sigma68(x) == pytest.approx(2.0, rel=0.01)
    # a far tail does not move it (unlike the RMS)
    assert sigma68(np.concatenate([x, np.full(1000, 1e6)])) == pytest.approx(2.0, rel=0.02)
    # brute force on a small sample: the narrowest window holding ceil(0.6827 n) values
    v = np.sort(np.random.default_rng(1).exponential(1.0, 50))
    k = int(np.ceil(0.6827 * 50))
    assert sigma68(v) == pytest.approx(min(v[i + k - 1] - v[i] for i in range(50 - k + 1)) / 2)
    assert np.isnan(sigma68([1.0]))


def _miscalibrated(n: int, seed: int) -> dict[str, np.ndarray]:
    """True pT falling like a spectrum; the measurement scaled by an eta-dependent response
    (0.9-1.1) and smeared by 2 %: the scale is learnable from eta, the smearing is not."""
    rng = np.random.default_rng(seed)
    true = 20.0 + rng.exponential(30.0, n)
    eta = rng.uniform(-2.5, 2.5, n)
    reco = true * (1.0 + 0.04 * eta) * (1.0 + 0.02 * rng.standard_normal(n))
    return {"truth_pt": true, "pt": reco, "eta": eta}


def test_calibration_removes_a_learnable_miscalibration() -> None:
    d = _miscalibrated(3000, 0)
    X = np.column_stack([d["pt"], d["eta"]])
    bdt = create("bdt-regressor", n_estimators=80, max_depth=3, learning_rate=0.2, n_jobs=1)
    doc, fitted = fit_calibration(
        X,
        d["truth_pt"],
        d["pt"],
        feature_names=["pt", "eta"],
        models=[("bdt", bdt)],
        bins={"eta": d["eta"]},
        bin_edges={"eta": [-2.5, -1.0, 0.0, 1.0, 2.5]},
        seed=0,
    )
    before, after = doc["before"]["sigma68"], doc["models"]["bdt"]["after"]["sigma68"]
    assert before > 0.045  # the eta spread of the scale (4 % x 1.44 rms) plus the 2 % smearing
    assert after < 0.6 * before and after == pytest.approx(0.02, rel=0.3)
    # the response per eta bin: off before, unity after
    lows = [b["median"] for b in doc["before_binned"]["eta"]]
    assert lows[0] < 0.96 and lows[-1] > 1.04
    for b in doc["models"]["bdt"]["binned"]["eta"]:
        assert b["median"] == pytest.approx(1.0, abs=0.01)
    assert fitted["bdt"] is bdt and doc["n_test"] == 600


def test_rows_without_truth_are_dropped() -> None:
    d = _miscalibrated(200, 1)
    d["truth_pt"][:50] = np.nan  # candidates with no generator photon nearby
    doc, _ = fit_calibration(
        d["pt"][:, None],
        d["truth_pt"],
        d["pt"],
        feature_names=["pt"],
        models=[],
        seed=0,
    )
    assert doc["rows"] == {"used": 150, "dropped": 50}
    rows = binned_response(np.ones(4), np.array([1.0, 2.0, 3.0, 9.0]), [0.0, 2.5, 5.0])
    assert [r["n"] for r in rows] == [2, 1]


def _regression_config(n: int = 800) -> dict[str, Any]:
    d = _miscalibrated(n, 2)
    return {
        "name": "calib",
        "seed": 3,
        "data": {
            "inline": {
                "feature_names": ["pt", "eta", "truth_pt"],
                "X": np.column_stack([d["pt"], d["eta"], d["truth_pt"]]).tolist(),
                "y": [0] * n,
                "class_names": ["photon"],
            }
        },
        "features": ["pt", "eta"],
        "task": {
            "type": "regression",
            "target": "truth_pt",
            "reference": "pt",
            "bins": {"truth_pt": [20, 40, 80, 300], "eta": [-2.5, 0.0, 2.5]},
        },
        "models": [
            {
                "name": "bdt",
                "family": "bdt-regressor",
                "params": {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2, "n_jobs": 1},
            }
        ],
        "output": {"formats": ["png"]},
    }


def test_regression_run_writes_models_metrics_and_report(tmp_path: Path) -> None:
    result = run(_regression_config(), out=tmp_path)
    assert (result.path / "DONE").is_file()
    doc = json.loads((result.path / "metrics.json").read_text())
    assert doc["task"] == "regression" and doc["target"] == "truth_pt"
    m = doc["models"]["bdt"]
    assert m["after"]["sigma68"] < 0.7 * doc["before"]["sigma68"]
    assert set(m["binned"]) == {"truth_pt", "eta"}
    html = (result.path / "report.html").read_text()
    assert "sigma_68" in html and "data:image/png;base64" in html
    for fig in ("ratio.png", "response_vs_truth_pt.png", "response_vs_eta.png"):
        assert (result.path / "figures" / fig).is_file()
    model = load(result.path / "models" / "bdt")
    X = np.array([[30.0, 2.0], [30.0, -2.0]])
    factor = model.predict(X)
    assert factor[0] < 1.0 < factor[1]  # high eta measured high: scaled down


def test_regression_config_checks() -> None:
    cfg = _regression_config(30)
    bad = json.loads(json.dumps(cfg))
    del bad["task"]["target"]
    with pytest.raises(ConfigError, match="target"):
        load_config(bad)
    bad = json.loads(json.dumps(cfg))
    bad["models"][0]["family"] = "bdt"
    with pytest.raises(ConfigError, match="is a classifier; a regression task trains regressors"):
        load_config(bad)
    bad = json.loads(json.dumps(cfg))
    bad["task"]["type"] = "binary"
    with pytest.raises(ConfigError, match="regression"):
        load_config(bad)
    shipped = load_config("photon-calibration")
    assert shipped.task.type == "regression" and shipped.task.target == "truth_pt"
    assert shipped.task.target not in shipped.features


@pytest.mark.slow
def test_shipped_photon_calibration_runs_on_generated_truth(tmp_path: Path) -> None:
    result = run(
        "photon-calibration",
        overrides=[
            "data.events=1500",
            f"data.cache={tmp_path / 'cache'}",
            "models[0].params.n_estimators=50",
            "models[1].params.epochs=5",
        ],
        out=tmp_path / "runs",
    )
    doc = result.metrics
    assert doc["rows"]["used"] > 500 and doc["rows"]["dropped"] == 0
    # today's detector model is calibrated (response 1) with a purely stochastic resolution:
    # a calibration cannot gain, but must not lose either
    assert doc["before"]["median"] == pytest.approx(1.0, abs=0.01)
    for m in doc["models"].values():
        assert m["after"]["median"] == pytest.approx(1.0, abs=0.01)
        assert m["after"]["sigma68"] < 1.1 * doc["before"]["sigma68"]


def test_cli_prints_the_calibration_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from hepsift.cli import main

    path = tmp_path / "calib.yaml"
    path.write_text(yaml.safe_dump(_regression_config(300)))
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sigma_68" in out and "bdt" in out and "report:" in out


def test_regression_columns_are_checked_before_anything_runs() -> None:
    cfg = _regression_config(30)
    cfg["task"]["target"] = "truth_ptt"
    with pytest.raises(ConfigError, match=r"task\.target.*did you mean 'truth_pt'"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"task\.reference"):
        load_config("photon-calibration", overrides=["task.reference=ptt"])
