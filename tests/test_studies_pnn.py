"""The pNN study: evaluation per mass, data loading (HEPMASS layout), end to end, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hepsift.cli import main
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError
from hepsift.report.studies import pnn_tables, write_pnn_study
from hepsift.studies.pnn import evaluate_at_masses, load_dataset, study, toy_dataset

TINY: dict[str, Any] = {
    "hidden": (8,),
    "epochs": 3,
    "patience": 3,
    "batch_size": 128,
    "lr": 1e-2,
    "num_threads": 1,
}


def test_evaluate_at_masses_matches_sklearn(rng: np.random.Generator) -> None:
    ds = toy_dataset((500.0, 1000.0), events_per_mass=200, background_events=300, seed=1)
    w = rng.uniform(0.5, 2.0, len(ds))
    ds = Dataset(ds.X, ds.y, w, ds.feature_names, param=ds.param)
    m_col = ds.feature_names.index("m_wwbb")

    def score(X: np.ndarray, m: float) -> np.ndarray:
        return -np.abs(X[:, m_col] - m)  # closeness of m_wwbb to the hypothesis

    res = evaluate_at_masses(score, ds, [500.0, 1000.0])
    assert set(res) == {"500", "1000"}
    for m in (500.0, 1000.0):
        sel = (ds.y == 0) | (ds.param == m)
        ref = roc_auc_score(ds.y[sel], score(ds.X[sel], m), sample_weight=w[sel])
        assert res[f"{m:g}"]["auc"] == pytest.approx(ref, abs=1e-12)
        assert res[f"{m:g}"]["n_signal"] == 200 and res[f"{m:g}"]["n_background"] == 300
        # rejection at 50 % signal efficiency: 1 / (weighted background fraction above the
        # signal median cut), checked by brute force on the weighted quantile
        s = score(ds.X[sel], m)
        ys, ws = ds.y[sel], w[sel]
        order = np.argsort(-s[ys == 1])
        cum = np.cumsum(ws[ys == 1][order]) / ws[ys == 1].sum()
        cut = s[ys == 1][order][np.searchsorted(cum, 0.5)]
        fpr = ws[(ys == 0) & (s >= cut)].sum() / ws[ys == 0].sum()
        assert 1.0 / res[f"{m:g}"]["rejection50"] == pytest.approx(fpr, rel=0.05, abs=2e-3)


def write_hepmass_csv(path: Path, rng: np.random.Generator, n: int = 400) -> None:
    label = rng.integers(0, 2, n)
    mass = np.where(label == 1, rng.choice([499.999969, 750.0, 1000.0], n), 1000.0)
    feats = rng.normal(size=(n, 27))
    header = "# label," + ",".join(f"f{i}" for i in range(27)) + ",mass"
    rows = np.column_stack([label, feats, mass])
    np.savetxt(path, rows, delimiter=",", header=header[2:], comments="# ", fmt="%.9g")


def test_load_dataset_reads_uci_hepmass_csv(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "1000_test.csv"
    write_hepmass_csv(path, rng)
    assert path.read_text().startswith("# label,f0,")
    ds = load_dataset(path)
    assert ds.feature_names == tuple(f"f{i}" for i in range(27))
    assert ds.param is not None
    assert sorted(np.unique(ds.param[ds.y == 1]).tolist()) == [500.0, 750.0, 1000.0]
    assert set(np.unique(ds.y).tolist()) == {0, 1}
    assert np.all(ds.weight == 1.0)
    sub = load_dataset(path, max_events=100, seed=3)
    assert len(sub) == 100
    head = load_dataset(path, entry_stop=50)
    np.testing.assert_array_equal(head.X, ds.X[:50])


def test_load_dataset_reads_generator_parquet(tmp_path: Path, rng: np.random.Generator) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 50
    cols: dict[str, np.ndarray] = {"label": rng.integers(0, 2, n)}
    cols.update({f"f{i}": rng.normal(size=n) for i in range(27)})
    cols.update(
        mass=rng.uniform(400, 2000, n),
        weight=rng.uniform(0.1, 1.0, n),
        mtt_true=rng.uniform(400, 2000, n),
        event_number=np.arange(n),
        sample=np.array(["ttbar_mtt0"] * n),
    )
    pq.write_table(pa.table(cols), tmp_path / "resonance-ttbar.parquet")
    ds = load_dataset(tmp_path / "resonance-ttbar.parquet")
    assert ds.n_features == 27 and "mtt_true" not in ds.feature_names
    np.testing.assert_allclose(ds.weight, cols["weight"])
    np.testing.assert_array_equal(ds.event_number, np.arange(n))


def test_load_dataset_errors(tmp_path: Path) -> None:
    path = tmp_path / "nolabel.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"lable": [0, 1], "f0": [0.1, 0.2], "mass": [500.0, 500.0]}), path)
    with pytest.raises(DataError, match="did you mean 'lable'"):
        load_dataset(path)


def test_study_rejects_bad_requests() -> None:
    ds = toy_dataset((500.0, 1000.0), events_per_mass=50, seed=0)
    with pytest.raises(ConfigError, match="nearest 1000"):
        study(ds, masses=[1100.0], **TINY)
    with pytest.raises(ConfigError, match="did you mean 'affine'"):
        study(ds, mechanism="afine", **TINY)
    with pytest.raises(ConfigError, match="did you mean 'interior'"):
        study(ds, holdout="interor", **TINY)
    no_param = Dataset(ds.X, ds.y, ds.weight, ds.feature_names)
    with pytest.raises(DataError, match="mass of every signal event"):
        study(no_param, **TINY)


@pytest.mark.slow
def test_study_end_to_end_on_a_tiny_toy(tmp_path: Path) -> None:
    masses = (500.0, 1000.0, 1500.0)
    ds = toy_dataset(masses, events_per_mass=150, seed=2)
    result = study(
        ds,
        seed=1,
        mechanisms=("concat", "affine"),
        policies=("uniform", "identical"),
        timing=True,
        timing_epochs=1,
        timing_repeats=1,
        **{**TINY, "epochs": 10, "patience": 10},
    )
    assert not list(tmp_path.iterdir())  # the study computes; the report layer writes
    result["files"] = write_pnn_study(result, tmp_path / "study")
    assert result["masses_gev"] == list(masses)
    assert result["data"]["toy"] is True
    assert set(result["pnn"]) == {
        "concat/uniform",
        "concat/identical",
        "affine/uniform",
        "affine/identical",
    }
    for entry in [*result["pnn"].values(), result["dedicated"]]:
        aucs = [v["auc"] for v in entry["per_mass"].values()]
        assert len(aucs) == 3 and all(0.0 <= a <= 1.0 for a in aucs)
        assert np.mean(aucs) > 0.75  # the toy's peak is easy to find
        assert entry["mean_auc"] == pytest.approx(np.mean(aucs))
    held = result["interpolation"]["held_out"]
    assert list(held) == ["1000"]  # the interior mass
    assert 0.0 < held["1000"]["delta_err"] < 0.2
    assert held["1000"]["delta_vs_dedicated"] == pytest.approx(
        held["1000"]["auc"] - result["dedicated"]["per_mass"]["1000"]["auc"]
    )
    assert result["timing"]["ratio"] > 0
    t = result["targets"]
    assert isinstance(t["interpolation_ok"], bool)
    assert t["affine_minus_concat_mean_auc/uniform"] == pytest.approx(
        result["pnn"]["affine/uniform"]["mean_auc"] - result["pnn"]["concat/uniform"]["mean_auc"]
    )
    folder = tmp_path / "study"
    for name in ("auc_vs_mass.png", "rejection_vs_mass.png", "mechanisms.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((folder / "pnn-study.json").read_text())
    assert saved["interpolation"]["held_out"]["1000"]["auc"] == pytest.approx(held["1000"]["auc"])
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files
    assert len(pnn_tables(result)) == 3


@pytest.mark.slow
def test_cli_pnn_study_on_hepmass_csv(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hepmass.csv"
    write_hepmass_csv(path, rng, n=600)
    out = tmp_path / "cli-study"
    code = main(
        [
            "pnn",
            "study",
            "--data",
            str(path),
            "--mechanisms",
            "affine",
            "--policies",
            "uniform",
            "--epochs",
            "2",
            "--hidden",
            "8",
            "--threads",
            "1",
            "--no-timing",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    saved = json.loads((out / "pnn-study.json").read_text())
    assert saved["masses_gev"] == [500.0, 750.0, 1000.0]
    assert list(saved["interpolation"]["held_out"]) == ["750"]
    assert "AUC" in capsys.readouterr().out


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pnn", "study"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: pnn study needs exactly one data source") and "\n" not in err
    assert main(["pnn", "study", "--toy", "--mechanism", "afine", "--no-timing"]) == 2
    assert "did you mean 'affine'" in capsys.readouterr().err


def test_bootstrap_errors_are_paired_and_match_the_reference(rng: np.random.Generator) -> None:
    from hepsift.evaluate.stats import bootstrap_auc, bootstrap_aucs

    y = (rng.random(800) < 0.4).astype(np.int64)
    s1 = y + rng.normal(size=800)
    s2 = s1 + 0.3 * rng.normal(size=800)
    w = rng.uniform(0.5, 1.5, 800)
    a, b, same = bootstrap_aucs([s1, s2, s1], y == 1, w, n=400, seed=4)
    np.testing.assert_array_equal(a, same)  # the same events in every replica
    ref = bootstrap_auc(s1, y == 1, w, n=400, seed=9)[2]
    assert np.std(a) == pytest.approx(np.std(ref), rel=0.2)  # independent replicas agree
    # the paired difference is much better known than either AUC
    assert np.std(a - b) < 0.7 * np.std(a)
    ds = toy_dataset((500.0,), events_per_mass=100, background_events=100, seed=0)
    res = evaluate_at_masses(lambda X, m: X[:, 0].astype(np.float64), ds, [500.0], bootstrap=100)
    assert 0.0 < res["500"]["auc_err"] < 0.05


def _fake_result(toy: bool) -> dict[str, object]:
    per = {
        "500": {"auc": 0.8, "rejection50": 12.0},
        "1000": {"auc": 0.9, "rejection50": float("inf")},
    }
    return {
        "masses_gev": [500.0, 1000.0],
        "settings": {"mechanism": "affine", "policy": "uniform", "policies": ["uniform"]},
        "data": {"toy": toy},
        "dedicated": {
            "per_mass": per,
            "seconds": {"500": 1.0, "1000": 1.0},
            "mean_auc": 0.85,
            "mean_rejection50": 12.0,
        },
        "pnn": {
            "affine/uniform": {
                "mechanism": "affine",
                "policy": "uniform",
                "per_mass": per,
                "seconds": 2.0,
                "mean_auc": 0.85,
                "mean_rejection50": 12.0,
            },
            "concat/uniform": {
                "mechanism": "concat",
                "policy": "uniform",
                "per_mass": {**per, "500": {"auc": float("nan"), "rejection50": 3.0}},
                "seconds": 2.0,
                "mean_auc": float("nan"),
                "mean_rejection50": 3.0,
            },
        },
        "interpolation": {"mechanism": "affine", "policy": "uniform", "held_out": {}},
        "targets": {},
    }


def test_write_pnn_study_writes_strict_json_and_figures(tmp_path: Path) -> None:
    """The report layer writes the study: strict JSON (NaN -> null, inf -> "inf"), the PNGs."""
    result = _fake_result(toy=True)
    files = write_pnn_study(result, tmp_path / "s")
    assert sorted(files) == [
        "auc_vs_mass.png",
        "mechanisms.png",
        "pnn-study.json",
        "rejection_vs_mass.png",
    ]

    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    text = (tmp_path / "s" / "pnn-study.json").read_text()
    saved = json.loads(text, parse_constant=no_constants)
    assert saved["pnn"]["concat/uniform"]["mean_auc"] is None
    assert saved["dedicated"]["per_mass"]["1000"]["rejection50"] == "inf"
    assert saved["files"] == files
    for name in ("auc_vs_mass.png", "rejection_vs_mass.png", "mechanisms.png"):
        assert Path(files[name]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pnn_tables(result)) == 3
