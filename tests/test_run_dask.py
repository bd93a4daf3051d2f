"""``hepsift run --scheduler local:2`` gives the same run as the local one (issue 17).

Small toy ntuples (ATLAS GamGam layout, two files per sample, so the cluster reads four
partitions on two worker processes): the selected events (yields and cutflows), the splits, and
the logistic and BDT models and their test metrics are identical; the run folder records the
cluster. The HTML report is not drawn (it is built in the main process from the same arrays, and
its figures cost ~25 s a run on the shared CI machine).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from hepsift.cli import main


def _config(d: Path) -> dict[str, Any]:
    return {
        "name": "toydask",
        "seed": 3,
        "data": {
            "samples": [
                {"name": "ggF", "paths": [str(d / "sig0.root"), str(d / "sig1.root")]},
                {"name": "continuum", "paths": [str(d / "bkg0.root"), str(d / "bkg1.root")]},
            ]
        },
        "selection": {"preset": "hgamgam"},
        "features": ["ptom_gg_0", "ptom_gg_1", "photon_eta_0", "ptt_gg", "jet_n", "met_et"],
        "task": {"type": "binary", "classes": {"background": ["continuum"], "signal": ["ggF"]}},
        "models": [
            {"name": "logistic", "family": "logistic"},
            {"name": "bdt", "family": "bdt", "params": {"n_estimators": 15, "max_depth": 3}},
        ],
        "evaluation": {"bootstrap": 10, "importance_repeats": 1},
        "output": {"formats": ["png"], "onnx": False},
    }


def _run_folder(out: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> Path:
    code = main(["run", *argv, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    (folder,) = [p for p in out.iterdir() if p.name.startswith("toydask-")]
    assert (folder / "DONE").is_file()
    return folder


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two metrics.json documents differ (seconds spent are skipped)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            if k not in ("timings", "figure_seconds") and not k.endswith("_seconds")
            for d in _differences(a.get(k), b.get(k), f"{path}/{k}")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.slow
def test_run_on_a_local_cluster_matches_the_local_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hepsift.report.build as build
    from hepsift.models import load

    def no_figures(*args: Any, **kwargs: Any) -> dict[str, float]:
        return {}

    monkeypatch.setattr(build, "build_report", no_figures)
    from hepsift.toydata import write_toy_gamgam

    d = tmp_path / "data"
    d.mkdir()
    for i in range(2):
        write_toy_gamgam(d / f"sig{i}.root", 700, seed=10 + i, signal_fraction=1.0)
        write_toy_gamgam(
            d / f"bkg{i}.root",
            2500,
            seed=20 + i,
            signal_fraction=0.0,
            channel_number=900001,
            xsection_pb=50.0,
        )
    config = tmp_path / "toydask.yaml"
    config.write_text(yaml.safe_dump(_config(d)))

    here = _run_folder(tmp_path / "local", [str(config)], capsys)
    there = _run_folder(tmp_path / "dask", [str(config), "--scheduler", "local:2"], capsys)

    m_here = json.loads((here / "metrics.json").read_text())
    m_there = json.loads((there / "metrics.json").read_text())
    # selected events: per-class yields (events and weights), split sizes, test yields
    assert m_here["yields"] == m_there["yields"] and m_here["n_test"] > 50
    assert m_here["n_test"] == m_there["n_test"] and m_here["n_train"] == m_there["n_train"]
    # every metric of every model, exactly (deterministic families, same data, same seed)
    assert _differences(m_here, m_there) == []
    assert 0.5 < m_there["models"]["bdt"]["auc"] <= 1.0

    # the saved models give the same scores on the same events
    probe = np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32) + 1.0
    for name in ("logistic", "bdt"):
        a = load(here / "models" / name).predict_proba(probe)
        b = load(there / "models" / name).predict_proba(probe)
        np.testing.assert_array_equal(a, b)

    # the cluster is in the provenance of the cluster run only
    assert json.loads((here / "provenance.json").read_text())["cluster"] is None
    cluster = json.loads((there / "provenance.json").read_text())["cluster"]
    assert cluster["kind"] == "local" and cluster["address"].startswith("tcp://")
    assert (cluster["n_workers"], cluster["threads"]) == (2, 2)


@pytest.mark.slow
def test_tables_on_a_local_cluster_match_local_reading(tmp_path: Path) -> None:
    """CSV and Parquet samples on local:2 (one task per file, read in chunks on the worker):
    the same events, weights, row-index event numbers and cutflows as local streaming."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsift.cluster import open_cluster
    from hepsift.prepare import build_dataset

    rng = np.random.default_rng(7)

    def table(n: int, label: int) -> Any:
        return pa.table(
            {
                "pt": rng.exponential(40.0, n) + 10.0,
                "eta": rng.normal(0.0, 1.5, n),
                "weight": rng.uniform(0.5, 1.5, n),
                "label": np.full(n, label),
            }
        )

    sig = [tmp_path / f"sig{i}.parquet" for i in range(3)]
    for i, path in enumerate(sig):
        pq.write_table(table(400 + 50 * i, 1), path, row_group_size=100)
    bkg = tmp_path / "bkg.csv"
    t = table(900, 0)
    with bkg.open("w") as f:
        f.write(",".join(t.column_names) + "\n")
        np.savetxt(f, np.column_stack([c.to_numpy() for c in t.columns]), delimiter=",")
    common = {"kind": "mc", "weight_branch": "weight", "xsection_pb": 1.0, "sum_weights": 1.0}
    samples = [
        {"name": "sig", "files": [str(p) for p in sig], "label": "signal", **common},
        {"name": "bkg", "files": str(bkg), "label": "background", **common},
    ]
    selection = {"cuts": [{"name": "pt", "cut": "pt > 30"}, {"name": "eta", "cut": "abs(eta) < 2"}]}
    kw: dict[str, Any] = {"features": ["pt", "eta"], "selection": selection, "step_size": 150}
    local, info_l = build_dataset(samples, **kw)
    with open_cluster("local:2") as cluster:
        assert cluster is not None
        dist, info_d = build_dataset(samples, scheduler=cluster.client, **kw)
    assert 500 < len(local) < 2650  # the cuts remove some events, not all
    np.testing.assert_array_equal(local.X, dist.X)
    np.testing.assert_array_equal(local.y, dist.y)
    np.testing.assert_array_equal(local.weight, dist.weight)
    np.testing.assert_array_equal(local.event_number, dist.event_number)
    for name in ("sig", "bkg"):
        assert info_l.cutflows[name].as_rows() == info_d.cutflows[name].as_rows()
